"""How a broadcast's stream is shown: the safe link and the YouTube embed (the room and broadcast pages)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from live.models import Broadcast

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")


def youtube_embed(url: str) -> str | None:
    """The privacy-enhanced embed URL for a YouTube watch/live/short link, else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    video = None
    if host == "youtu.be":
        video = parts.path.strip("/").split("/")[0]
    elif host == "youtube.com":
        if parts.path == "/watch":
            video = parse_qs(parts.query).get("v", [""])[0]
        elif parts.path.startswith(("/live/", "/embed/", "/shorts/")):
            video = parts.path.split("/")[2]
    if parts.scheme in {"http", "https"} and video and _YOUTUBE_ID.match(video):
        return f"https://www.youtube-nocookie.com/embed/{video}"
    return None


def room_context(broadcast: Broadcast) -> dict[str, Any]:
    """What room_panel.html needs (also for embedding it in the broadcast page)."""
    stream_url = broadcast.stream_url or (broadcast.program.stream_url if broadcast.program else "")
    return {
        "broadcast": broadcast,
        "stream_url": stream_url if stream_url.startswith(("https://", "http://")) else "",
        "embed_url": youtube_embed(stream_url) if stream_url else None,
    }
