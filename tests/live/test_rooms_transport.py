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
