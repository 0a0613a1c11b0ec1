"""A tiny SMTP server for fault tests: records what it accepted, and can hold its "250 OK" for a message.

It accepts a message only by answering 250 to the end of DATA. While holding, the test kills the
sender; a sender that is gone by the time the hold is released gets no 250 and the message is
not accepted (RFC 5321: the server takes responsibility only with that reply).
"""

from __future__ import annotations

import asyncio
import email
import threading
from email import policy


class SmtpSink:
    def __init__(self, hold_at: int | None = None) -> None:
        self.accepted: list[str] = []  # Message-IDs, in order
        self.received: list[str] = []  # Message-IDs of every complete DATA, accepted or not
        self.hold_at = hold_at  # hold the reply to the N-th complete DATA (1-based)
        self.holding = threading.Event()
        self.release = threading.Event()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> SmtpSink:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def stop(self) -> None:
        self.release.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:  # close the listening socket and the sessions' sockets, not leave them to the GC
            server.close()
            sessions = asyncio.all_tasks(self._loop)
            for task in sessions:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*sessions, return_exceptions=True))
            self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            await reply("220 sink ESMTP")
            while line := await reader.readline():
                verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                if verb in {"EHLO", "HELO"}:
                    await reply("250 sink")
                elif verb in {"MAIL", "RCPT", "RSET", "NOOP"}:
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 go ahead")
                    if not await self._data(reader, reply):
                        return
                elif verb == "QUIT":
                    await reply("221 bye")
                    return
                else:
                    await reply("502 unknown")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _data(self, reader: asyncio.StreamReader, reply) -> bool:  # type: ignore[no-untyped-def]
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        if line == b"":
            return False  # cut mid-DATA: nothing to accept
        msg = email.message_from_bytes(b"".join(lines), policy=policy.default)
        message_id = str(msg["Message-ID"])
        with self._lock:
            self.received.append(message_id)
            hold = self.hold_at is not None and len(self.received) == self.hold_at
        if hold:
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 30)
            try:  # is the sender still there? (a killed one has closed its socket: EOF)
                if await asyncio.wait_for(reader.read(1), 0.3) == b"":
                    return False
            except TimeoutError:
                pass
        with self._lock:
            self.accepted.append(message_id)
        await reply("250 OK queued")
        return True
