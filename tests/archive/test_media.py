"""Recording links: providers recognised, unsafe schemes refused."""

from __future__ import annotations

import pytest

from archive.media import MediaError, MediaKind, parse_media_url


@pytest.mark.parametrize(
    ("url", "kind", "video_id"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10", MediaKind.YOUTUBE, "dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", MediaKind.YOUTUBE, "dQw4w9WgXcQ"),
        ("https://www.youtube.com/live/dQw4w9WgXcQ?si=x", MediaKind.YOUTUBE, "dQw4w9WgXcQ"),
        ("https://vimeo.com/123456789", MediaKind.VIMEO, "123456789"),
        ("https://www.facebook.com/somepage/videos/1234567890/", MediaKind.FACEBOOK, ""),
        ("https://files.example.jp/rec/2026-11-02.mp4", MediaKind.VIDEO_FILE, ""),
        ("/archive/media/session-1.webm", MediaKind.VIDEO_FILE, ""),
        ("https://zoom.us/rec/share/abc", MediaKind.LINK, ""),
    ],
)
def test_providers(url, kind, video_id):
    media = parse_media_url(url)
    assert (media.kind, media.video_id) == (kind, video_id)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.jp/x.mp4",
        "https://user:pass@example.jp/x.mp4",
        "https://example.jp/a b.mp4",
        "https://example.jp/" + "x" * 600,
        "",
        "//evil.example/x.mp4",
        "/archive/media/../secret_key",
        "https://www.youtube.com/watch?v=short",
    ],
)
def test_unsafe_or_broken_links_are_refused(url):
    with pytest.raises(MediaError):
        parse_media_url(url)
