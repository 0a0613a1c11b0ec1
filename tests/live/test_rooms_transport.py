"""The fast fan-out path is what `chonai serve` runs: uvicorn's websockets-sansio protocol and DirectSink.

If uvicorn changes the protocol's internals (or `ws` stops being chosen explicitly), make_sink falls back
to the slower QueueSink without failing anything else; these tests are what notices.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from live.rooms import metrics
from live.rooms.transport import UVICORN_WS, DirectSink, QueueSink, make_sink
from tests.servers import serve
from tests.web.test_cli import chonai


def _sinks(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r'^chonai_room_sinks_total\{kind="(\w+)"\} (\S+)$', text, re.M)}


@pytest.mark.slow
def test_chonai_serve_writes_to_viewers_through_the_direct_sink(tmp_path):
    with serve(tmp_path, LOG_LEVEL="INFO") as server:
        token = chonai(server.env, "token", "create", "--email", "operator@example.jp").stdout.strip()
        with connect(server.url.replace("http", "ws") + "/ws/rooms", open_timeout=10) as ws:
            assert '"login_required"' in ws.recv(timeout=10)  # answered through the sink
        scraped = httpx.get(server.url + "/metrics", headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert scraped.status_code == 200
        assert _sinks(scraped.text) == {"direct": 1.0}
    assert "slow queue writer" not in (tmp_path / "server.log").read_text()


def test_the_uvicorn_protocol_is_chosen_explicitly():
    import uvicorn.protocols.websockets.websockets_sansio_impl as sansio
    from uvicorn.config import WS_PROTOCOLS

    assert UVICORN_WS == "websockets-sansio"
    assert WS_PROTOCOLS[UVICORN_WS] == "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol"
    # The attributes DirectSink reads exist on this uvicorn's protocol.
    source = Path(sansio.__file__).read_text(encoding="utf-8")
    for attribute in ("self.transport", "self.conn", "self.close_sent", "self.disconnected", "self.handshake_complete"):
        assert attribute in source, attribute
    # ... and the handshake's request and response, which it drops, are read only before the handshake completes.
    after_handshake = source[source.index("self.start_keepalive()") :]
    assert "self.request" not in after_handshake and "self.response" not in after_handshake


class _OtherProtocol:
    """Stands for another uvicorn WebSocket implementation."""

    __module__ = "uvicorn.protocols.websockets.wsproto_impl"

    async def receive(self):
        return {}


async def test_any_other_protocol_falls_back_to_the_queue_and_says_so(caplog, monkeypatch):
    from live.rooms import transport

    monkeypatch.setattr(transport, "_warned", False)
    before = metrics.SINKS.labels("queue")._value.get()

    async def send(message):
        return None

    with caplog.at_level("WARNING", logger="chonai.rooms"):
        sink = make_sink(_OtherProtocol().receive, send)
    try:
        assert isinstance(sink, QueueSink) and not isinstance(sink, DirectSink)
    finally:
        sink.stop()
    assert metrics.SINKS.labels("queue")._value.get() == before + 1
    assert any("slow queue writer" in r.getMessage() for r in caplog.records)


class _Transport:
    """Just enough of an asyncio transport for uvicorn's WebSocket protocol."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closing = False
        self.reading = True

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data):
        self.out += data

    def get_write_buffer_size(self):
        return 0

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def abort(self):
        self.closing = True

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True


async def test_the_direct_sink_slims_uvicorns_protocol_and_it_still_works():
    """The handshake's headers go, the queue and `writable` event become slim ones; receive and close still work."""
    import asyncio

    from uvicorn.config import Config
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    from bench._wsclient import client_frame
    from live.rooms.transport import Inbox, OutFrame, Writable

    received: list[dict] = []
    sinks: list[DirectSink] = []
    requests: list = []

    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        requests.append(receive.__self__.request)  # websockets' parser keeps this one for the socket's life
        sink = make_sink(receive, send)
        assert isinstance(sink, DirectSink)
        sinks.append(sink)
        received.append(await receive())
        assert sink.write(OutFrame(b'{"type":"pong"}'))
        received.append(await asyncio.wait_for(receive(), 5))

    config = Config(app=app, ws=UVICORN_WS, ws_per_message_deflate=False, lifespan="off", log_config=None)
    config.load()
    proto = WebSocketsSansIOProtocol(config, ServerState(), {})
    transport = _Transport()
    proto.connection_made(transport)
    proto.data_received(
        b"GET /ws/rooms HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: a=b\r\n\r\n"
    )
    for _ in range(50):
        if sinks:
            break
        await asyncio.sleep(0.01)
    assert b"101 Switching Protocols" in transport.out
    assert isinstance(proto.queue, Inbox) and isinstance(proto.writable, Writable) and proto.writable.is_set()
    assert proto.request is None and proto.response is None
    assert len(requests[0].headers) == 0

    proto.data_received(client_frame(b'{"type":"ping"}'))
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.01)
    assert received == [{"type": "websocket.receive", "text": '{"type":"ping"}'}]
    assert transport.out.endswith(b'\x81\x0f{"type":"pong"}')
    assert transport.reading  # uvicorn resumed reading once its (slim) queue was empty

    proto.connection_lost(None)
    await asyncio.sleep(0.05)
    assert received[-1]["type"] == "websocket.disconnect"
    assert not sinks[0].write(OutFrame(b"{}"))  # gone: the room drops it


async def test_inbox_and_writable_behave_like_the_asyncio_objects_they_replace():
    import asyncio

    from live.rooms.transport import Inbox, Writable

    inbox = Inbox([1])
    assert not inbox.empty() and await inbox.get() == 1 and inbox.empty()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(2)
    inbox.put_nowait(3)
    assert await getter == 2 and inbox.qsize() == 1
    assert await inbox.get() == 3
    with pytest.raises(TimeoutError):  # a timed-out read loses nothing that arrives later
        await asyncio.wait_for(inbox.get(), 0.01)
    inbox.put_nowait(4)
    assert await inbox.get() == 4

    writable = Writable(True)
    assert await writable.wait()
    writable.clear()
    waiters = [asyncio.ensure_future(writable.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    writable.set()
    assert await asyncio.gather(*waiters) == [True, True]
    writable.clear()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(writable.wait(), 0.01)
    assert writable._waiters == []
