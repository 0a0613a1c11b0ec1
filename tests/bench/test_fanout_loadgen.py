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


def test_one_worker_times_and_the_others_count_and_post() -> None:
    timing, *counting = plans([1, 2], ["a", "b", "c"], 7, viewers=10, rate=10.0, total=30, sample=5, workers=3)
    assert (timing.viewers, timing.sampled, timing.comments) == ([4, 6, 8], {4, 6, 8}, [])
    assert [p.viewers for p in counting] == [[0, 2, 5, 9], [1, 3, 7]]
    assert [sorted(p.posters) for p in counting] == [[0, 2], [1]]  # the first viewer of each member
    assert [p.sampled for p in counting] == [frozenset(), frozenset()]
    assert sorted(k for p in counting for k in p.comments) == list(range(30))


def test_one_worker_does_everything() -> None:
    (only,) = plans([1], [""], 1, viewers=10, rate=10.0, total=5, sample=5, workers=1)
    assert (only.viewers, only.sampled, only.comments) == (list(range(10)), {0, 2, 4, 6, 8}, list(range(5)))
    assert only.posters == frozenset(range(10))  # one member: the first 20 viewers post


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
        result = fanout.drive([port], [""], 1, 90, 20.0, 12.0, 9, [server.pid], loadgen=3)
    finally:
        fanout.stop([server])
    assert result["loadgen_processes"] == 3
    assert result["viewers_connected"] == 90
    assert (result["comments"], result["deliveries"], result["reach"]) == (240, 240 * 90, 1.0)
    assert result["p50_ms"] is not None and result["p99_ms"] >= result["p50_ms"] > 0
    assert result["errors"] == []


def test_the_servers_fanout_histogram_is_summed_and_read_as_bucket_bounds(monkeypatch) -> None:
    pages = {
        1: 'chonai_room_fanout_seconds_bucket{le="0.05"} 60.0\nchonai_room_fanout_seconds_bucket{le="0.1"} 99.0\n'
        'chonai_room_fanout_seconds_bucket{le="+Inf"} 100.0\nother_metric 5\n',
        2: 'chonai_room_fanout_seconds_bucket{le="0.05"} 40.0\nchonai_room_fanout_seconds_bucket{le="0.1"} 100.0\n'
        'chonai_room_fanout_seconds_bucket{le="+Inf"} 100.0\n',
    }
    asked: list[tuple[str, str | None]] = []

    class Answer:
        def __init__(self, text: str) -> None:
            self.text = text

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return self.text.encode()

    def urlopen(request, timeout):  # type: ignore[no-untyped-def]
        asked.append((request.full_url, request.get_header("Authorization")))
        return Answer(pages[int(request.full_url.split(":")[2].split("/")[0])])

    monkeypatch.setattr(fanout.urllib.request, "urlopen", urlopen)
    found = fanout.server_fanout([1, 2], "tok")
    assert asked == [("http://127.0.0.1:1/metrics", "Bearer tok"), ("http://127.0.0.1:2/metrics", "Bearer tok")]
    # 200 observations: 100 by 50 ms (the median), 199 by 100 ms (p99 = the 198th).
    assert found == {"observations": 200, "p50_ms_at_most": 50.0, "p99_ms_at_most": 100.0}
