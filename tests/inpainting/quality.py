"""PSNR of a repaired video against the clean one, inside and outside the subtitle band."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from tests.media import read_frames


class Quality(msgspec.Struct, kw_only=True):
    """PSNRs in dB (pooled mean squared error over the frames counted) and the frame counts."""

    band_text_db: float
    band_plain_db: float
    outside_db: float
    input_band_text_db: float
    frames: int
    text_frames: int
    band_text_ssim: float = 0.0


def psnr(squared_error: float, pixels: int) -> float:
    """Return the PSNR of 8-bit pixels with this summed squared error."""
    mse = squared_error / max(1, pixels)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(one: np.ndarray, other: np.ndarray) -> float:
    """Return the structural similarity of two RGB images on their luma (Gaussian window, sigma 1.5)."""
    import cv2

    weights = np.array([0.299, 0.587, 0.114])
    a, b = (np.asarray(image, dtype=np.float64) @ weights for image in (one, other))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.GaussianBlur(x, (11, 11), 1.5))

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(score.mean())


def measure(repaired: Path, clean: Path, original: Path, area: Sequence[int], text_frames: set[int]) -> Quality:
    """Compare ``repaired`` and ``original`` (the subtitled input) with ``clean``, frame by frame."""
    x1, y1, x2, y2 = area
    sums = {"band": 0.0, "band_px": 0, "out": 0.0, "out_px": 0, "input_band": 0.0, "plain": 0.0, "plain_px": 0}
    count, similarity = 0, []
    for index, (ours, truth, given) in enumerate(
        zip(read_frames(repaired), read_frames(clean), read_frames(original), strict=True)
    ):
        error = (ours.astype(np.float64) - truth) ** 2
        inside = np.zeros(error.shape[:2], dtype=bool)
        inside[y1:y2, x1:x2] = True
        sums["out"] += float(error[~inside].sum())
        sums["out_px"] += int((~inside).sum()) * 3
        if index in text_frames:
            sums["band"] += float(error[inside].sum())
            sums["band_px"] += int(inside.sum()) * 3
            sums["input_band"] += float(((given.astype(np.float64) - truth)[inside] ** 2).sum())
            similarity.append(ssim(ours[y1:y2, x1:x2], truth[y1:y2, x1:x2]))
        else:
            sums["plain"] += float(error[inside].sum())
            sums["plain_px"] += int(inside.sum()) * 3
        count += 1
    return Quality(
        band_text_db=round(psnr(sums["band"], int(sums["band_px"])), 2),
        band_plain_db=round(psnr(sums["plain"], int(sums["plain_px"])), 2),
        outside_db=round(psnr(sums["out"], int(sums["out_px"])), 2),
        input_band_text_db=round(psnr(sums["input_band"], int(sums["band_px"])), 2),
        frames=count,
        text_frames=len(text_frames),
        band_text_ssim=round(float(np.mean(similarity)), 4) if similarity else 0.0,
    )


def text_frame_indexes(lines: Sequence[tuple[float, float, str]], fps: int, frames: int) -> set[int]:
    """Return the frames that carry a subtitle line (as ``tests.media.make_textured_pair`` draws them)."""
    return {i for i in range(frames) if any(start <= i / fps + 1e-6 < end for start, end, _ in lines)}


class Streams(msgspec.Struct, kw_only=True, frozen=True):
    """What must survive the repair: the picture's geometry and timing, the audio packets."""

    video_codec: str
    width: int
    height: int
    rate: str
    frames: int
    audio_codec: str | None
    audio_packets: tuple[int, ...]


def streams(path: Path) -> Streams:
    """Describe a file's first video stream (frames counted by decoding) and its audio packets' sizes."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        sizes = tuple(p.size for p in container.demux(audio) if p.size) if audio is not None else ()
        described = (str(video.codec_context.name), video.codec_context.width, video.codec_context.height)
        rate = str(video.average_rate)
        audio_codec = str(audio.codec_context.name) if audio is not None else None
    return Streams(
        video_codec=described[0],
        width=described[1],
        height=described[2],
        rate=rate,
        frames=sum(1 for _ in read_frames(path)),
        audio_codec=audio_codec,
        audio_packets=sizes,
    )
