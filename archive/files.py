"""Members-only recording files with HTTP Range support, so players can seek without downloading all."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from litestar.response import Stream

CHUNK = 256 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits are past any file size


class MediaNotFound(Exception):
    pass


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def media_path(media_dir: Path, name: str) -> Path:
    """Only plain file names inside the media folder (no paths, no dot-files)."""
    if not _SAFE_NAME.match(name) or ".." in name:
        raise MediaNotFound(name)
    path = (media_dir / name).resolve()
    if path.parent != media_dir.resolve() or not path.is_file():
        raise MediaNotFound(name)
    return path


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range (what media players ask for); None means the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable(size)
    first, last = match.group(1), match.group(2)
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start > end or start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


async def _read(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = await f.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


#: Types a browser may show inline: players and pictures. Anything else (HTML, SVG, PDF, scripts)
#: on our own origin could run as a page of the site, so it is downloaded instead.
INLINE_TYPES = ("video/", "audio/", "image/png", "image/jpeg", "image/gif", "image/webp")


def file_response(path: Path, range_header: str | None) -> Stream:
    size = path.stat().st_size
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    byte_range = parse_range(range_header, size)
    headers = {"accept-ranges": "bytes", "cache-control": "private, max-age=3600"}
    if not media_type.startswith(INLINE_TYPES):
        media_type = "application/octet-stream"
        headers["content-disposition"] = f'attachment; filename="{path.name}"'
        headers["content-security-policy"] = "sandbox; default-src 'none'"
    if byte_range is None:
        headers["content-length"] = str(size)
        return Stream(_read(path, 0, size - 1), media_type=media_type, headers=headers)
    start, end = byte_range
    headers.update({"content-range": f"bytes {start}-{end}/{size}", "content-length": str(end - start + 1)})
    return Stream(_read(path, start, end), media_type=media_type, headers=headers, status_code=206)
