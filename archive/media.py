"""Recognise recording links: which provider, how to embed it, and whether it reports playback time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from core.enums import LabelledEnum


class MediaKind(LabelledEnum):
    YOUTUBE = "youtube", "YouTube"
    VIMEO = "vimeo", "Vimeo"
    FACEBOOK = "facebook", "Facebook"
    VIDEO_FILE = "video_file", "動画ファイル"
    LINK = "link", "リンク"


class MediaError(ValueError):
    """The link is unusable; the message is shown to the user as is."""


_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_VIDEO_EXTENSIONS = (".mp4", ".webm", ".ogv", ".ogg", ".m4v", ".mov")
_MAX_URL = 500
LOCAL_MEDIA_PREFIX = "/archive/media/"


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    kind: MediaKind
    video_id: str = ""

    @property
    def embed_url(self) -> str:
        if self.kind is MediaKind.YOUTUBE:
            return f"https://www.youtube-nocookie.com/embed/{self.video_id}?enablejsapi=1&rel=0"
        if self.kind is MediaKind.VIMEO:
            return f"https://player.vimeo.com/video/{self.video_id}"
        return ""


def _youtube_id(host: str, path: str, query: str) -> str | None:
    if host in {"youtu.be"}:
        candidate = path.strip("/").split("/")[0]
    elif host.endswith("youtube.com") or host.endswith("youtube-nocookie.com"):
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["watch"]:
            candidate = (parse_qs(query).get("v") or [""])[0]
        elif len(parts) >= 2 and parts[0] in {"live", "embed", "shorts", "v"}:
            candidate = parts[1]
        else:
            return None
    else:
        return None
    return candidate if _YOUTUBE_ID.match(candidate) else None


def parse_media_url(raw: str) -> Media:
    """Accept only http(s) links (never javascript:, data:, file:) and classify them."""
    url = raw.strip()
    if not url:
        raise MediaError("録画のURLを入力してください。")
    if len(url) > _MAX_URL:
        raise MediaError(f"URLは{_MAX_URL}文字以内で入力してください。")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise MediaError("URLに空白や制御文字は使えません。")
    if url.startswith(LOCAL_MEDIA_PREFIX):
        # A file an operator placed in the members-only media folder (var/media/).
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}", url[len(LOCAL_MEDIA_PREFIX) :]) or ".." in url:
            raise MediaError("メディアフォルダのファイル名が正しくありません。")
        return Media(url, MediaKind.VIDEO_FILE)
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise MediaError("URLは http:// または https:// で始まるものを入力してください。")
    if parts.username or parts.password:
        raise MediaError("ユーザー名やパスワードを含むURLは使えません。")
    host = parts.hostname.lower()
    if (video_id := _youtube_id(host, parts.path, parts.query)) is not None:
        return Media(url, MediaKind.YOUTUBE, video_id)
    if host.endswith("youtube.com") or host == "youtu.be":
        raise MediaError("YouTube の動画URLとして認識できませんでした（例: https://www.youtube.com/watch?v=…）。")
    if host in {"vimeo.com", "www.vimeo.com", "player.vimeo.com"}:
        match = re.search(r"/(?:video/)?(\d{4,12})(?:/|$)", parts.path)
        if match:
            return Media(url, MediaKind.VIMEO, match.group(1))
        raise MediaError("Vimeo の動画URLとして認識できませんでした（例: https://vimeo.com/123456789）。")
    if host.endswith("facebook.com") or host == "fb.watch":
        return Media(url, MediaKind.FACEBOOK)
    if parts.path.lower().endswith(_VIDEO_EXTENSIONS):
        return Media(url, MediaKind.VIDEO_FILE)
    return Media(url, MediaKind.LINK)
