"""The fan-out benchmark's load generator in several processes, against its two peers
(the bare websockets reference and Litestar's channels plugin).

What can be wrong without timing anything: viewers split over the workers, every worker's
comments counted by every worker's viewers (reach exactly 1.0), the send time carried in the
comment text and read back by sampled viewers in other processes, and counting viewers that
read lazily still counting everything.
"""

from __future__ import annotations

import os
import sys

import pytest

from bench import fanout
from bench._loadgen import plans
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def test_viewers_and_comments_are_split_over_the_workers() -> None:
    split = plans([1, 2], ["a", "b", "c"], 7, viewers=10, rate=10.0, total=30, sample=5, workers=3)
    assert [p.viewers for p in split] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert {p.posters for p in split} == {3}  # one poster per member
    assert {p.sample_every for p in split} == {2}


@pytest.mark.parametrize("peer", ["bench.reference_server", "bench._litestar_channels_server"])
def test_three_load_processes_deliver_every_comment_to_every_viewer(tmp_path, peer) -> None:
    port = free_port()
    server = fanout.start(
        [sys.executable, "-m", peer, "--port", str(port)],
        dict(os.environ),
        tmp_path / "reference.log",
    )
    try:
        fanout.wait_http(f"http://127.0.0.1:{port}/", server)
        result = fanout.drive([port], [""], 1, 90, 40.0, 1.5, 9, [server.pid], loadgen=3)
    finally:
        fanout.stop([server])
    assert result["loadgen_processes"] == 3
    assert result["viewers_connected"] == 90
    assert (result["comments"], result["deliveries"], result["reach"]) == (60, 60 * 90, 1.0)
    assert result["p50_ms"] is not None and result["p99_ms"] >= result["p50_ms"] > 0
    assert result["errors"] == []
