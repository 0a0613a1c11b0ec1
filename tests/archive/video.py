"""A short real video for replay tests, encoded with PyAV (VP8/WebM, which Chromium plays)."""

from __future__ import annotations

from pathlib import Path


def write_test_video(path: Path, seconds: int = 10, fps: int = 5) -> Path:
    import av
    from av import VideoFrame

    width, height = 160, 90
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * fps):
            frame = VideoFrame(width, height, "rgb24")
            shade = (i * 255) // (seconds * fps)
            frame.planes[0].update(bytes([shade, 80, 255 - shade]) * (width * height))
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
