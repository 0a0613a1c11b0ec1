"""Prometheus metrics of the comment rooms (per process; scrape every process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

CONNECTIONS = Gauge("chonai_room_connections", "Open comment-room WebSocket connections", registry=REGISTRY)
ROOMS = Gauge("chonai_rooms_active", "Comment rooms with state in this process", registry=REGISTRY)
COMMENTS_ACCEPTED = Counter("chonai_comments_accepted_total", "Comments stored and acknowledged", registry=REGISTRY)
COMMENTS_REFUSED = Counter(
    "chonai_comments_refused_total", "Comments refused, by error code", ["code"], registry=REGISTRY
)
PROTOCOL_ERRORS = Counter(
    "chonai_room_protocol_errors_total", "Bad client messages, by error code", ["code"], registry=REGISTRY
)
FRAMES = Counter("chonai_room_frames_total", "Comment frames fanned out (one per room per window)", registry=REGISTRY)
DELIVERIES = Counter("chonai_room_deliveries_total", "Comment deliveries written to viewers", registry=REGISTRY)
SINKS = Counter(
    "chonai_room_sinks_total",
    "Viewer connections by writer: direct (uvicorn websockets-sansio transport) or queue (slower fallback)",
    ["kind"],
    registry=REGISTRY,
)
SLOW_VIEWERS = Counter("chonai_room_slow_viewers_total", "Viewers cut off for falling behind", registry=REGISTRY)
GAP_FETCHES = Counter(
    "chonai_room_gap_fetches_total", "Reads of missed comments from the database (bus gaps)", registry=REGISTRY
)
HISTORY_READS = Counter(
    "chonai_room_history_reads_total",
    "Join and resume histories, by source: memory (the room's recent window) or database",
    ["source"],
    registry=REGISTRY,
)
VISIT_WRITES = Counter(
    "chonai_room_visit_writes_total", "Statements writing room visits (one per batch)", registry=REGISTRY
)
FANOUT_LATENCY = Histogram(
    "chonai_room_fanout_seconds",
    "From a comment's commit to its frame being written to viewers",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
