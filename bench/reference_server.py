"""The plain-Python ceiling for `chonai bench fanout`: a minimal websockets.broadcast() room.

No authentication, validation or storage: comments are numbered in arrival order,
coalesced for the same window as Chonai and sent with `websockets.broadcast()`,
compression off. With --redis, several processes share the room through one Redis
pub/sub channel (as Chonai does), numbering in the channel's order.

    python -m bench.reference_server --port 9000 --window 0.04 [--redis URL --channel NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve

CONNECTIONS: set[ServerConnection] = set()


def comment_json(position: int, text: str) -> str:
    """One comment item as the peers send it: the fields of Chonai's CommentItem, one fixed author."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = {"position": position, "member_id": 1, "name": "参照 太郎", "organisation": "参照市 ベンチマーク課"}
    return json.dumps({**item, "text": text, "at": at, "offset_ms": 0}, ensure_ascii=False, separators=(",", ":"))


class Room:
    def __init__(self, window: float) -> None:
        self.window = window
        self.position = 0
        self.batch: list[str] = []
        self.handle: asyncio.TimerHandle | None = None

    def add(self, text: str) -> None:
        self.position += 1
        self.batch.append(comment_json(self.position, text))
        if self.handle is None:
            self.handle = asyncio.get_running_loop().call_later(self.window, self.flush)

    def flush(self) -> None:
        self.handle = None
        frame = '{"type":"comments","items":[' + ",".join(self.batch) + "]}"
        self.batch = []
        broadcast(CONNECTIONS, frame)


async def main(args: argparse.Namespace) -> None:
    room = Room(args.window)
    publish: Any = None
    if args.redis:
        from redis.asyncio import Redis

        redis = Redis.from_url(args.redis)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(args.channel)

        async def listen() -> None:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    room.add(message["data"].decode())

        listener = asyncio.create_task(listen())
        publish = redis.publish

    async def handler(ws: ServerConnection) -> None:
        CONNECTIONS.add(ws)
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                kind = message.get("type")
                if kind == "join":
                    await ws.send('{"type":"history","items":[],"resumed":false,"last_position":0}')
                elif kind == "comment":
                    text = str(message.get("text", ""))[:200]
                    if publish is not None:
                        await publish(args.channel, text)
                    else:
                        room.add(text)
        finally:
            CONNECTIONS.discard(ws)

    async with serve(handler, "127.0.0.1", args.port, compression=None, backlog=4096):
        print("ready", flush=True)
        await asyncio.Future()
    if args.redis:
        listener.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--window", type=float, default=0.04)
    parser.add_argument("--redis")
    parser.add_argument("--channel", default="chonai-bench-reference")
    asyncio.run(main(parser.parse_args()))
