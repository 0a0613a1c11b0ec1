"""A framework peer for `chonai bench fanout --peers litestar-channels`: Litestar's channels plugin.

The room as a Litestar user would write it with the documented parts: a ChannelsPlugin on
the in-memory backend, one channel for the room, a WebSocket handler that subscribes the
socket (`start_subscription` + `run_in_background(socket.send_text)`) and publishes each
comment as one event — no coalescing window, which is why it answers a quiet room at once.
Items carry the same fields as Chonai's and the reference's. Served by uvicorn with the
same WebSocket protocol as `chonai serve` (websockets-sansio), access log off.

    python -m bench._litestar_channels_server --port 9000
"""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

import uvicorn
from litestar import Litestar, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

from bench.reference_server import comment_json

ROOM = "room"


POSITIONS = itertools.count(1)  # comment numbers in arrival order (one process, one loop)


def item(text: str) -> str:
    return '{"type":"comments","items":[' + comment_json(next(POSITIONS), text) + "]}"


@websocket("/ws/rooms")
async def room(socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin) -> None:
    await socket.accept()
    async with channels.start_subscription([ROOM]) as subscriber, subscriber.run_in_background(socket.send_text):
        while True:
            try:
                message = json.loads(await socket.receive_text())
            except ValueError:
                continue
            kind = message.get("type")
            if kind == "join":
                await socket.send_text('{"type":"history","items":[],"resumed":false,"last_position":0}')
            elif kind == "comment":
                channels.publish(item(str(message.get("text", ""))[:200]), ROOM)


@get("/")
async def ready() -> str:
    return "ready"


app = Litestar(
    route_handlers=[room, ready],
    plugins=[ChannelsPlugin(backend=MemoryChannelsBackend(), channels=[ROOM])],
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, ws="websockets-sansio", access_log=False, log_level="warning")
