"""ffmpeg.burn_subtitles read back by our OCR, and ffmpeg.add_subtitle_tracks listed with their languages."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import av
import numpy as np

from tests.harness import Client, System
from tests.media import make_video

BURN_SRT = """1
00:00:00,500 --> 00:00:02,500
HELLO WORLD

2
00:00:01,000 --> 00:00:02,500
SECOND LINE
"""


def frame_at(path: Path, time_s: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= time_s:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {time_s} s in {path}")


@functools.cache
def _ocr() -> Any:
    from rapidocr import RapidOCR

    return RapidOCR()


def read_text(image: np.ndarray) -> list[tuple[str, float]]:
    """Return each text our OCR reads (upper case, spaces dropped: it often misses them), with its box's bottom."""
    result = _ocr()(image)
    return [
        ("".join(text.upper().split()), float(np.asarray(box)[:, 1].max()))
        for text, box in zip(result.txts or (), result.boxes if result.boxes is not None else (), strict=False)
    ]


async def test_burnt_subtitles_are_read_back_by_ocr_above_the_named_region_and_overlaps_are_stacked(
    media_system: System, media_client: Client
) -> None:
    share = media_system.share_dir
    make_video(share / "burn" / "clip.mp4", 3.0, size="480x270")
    (share / "burn" / "subs.srt").write_text(BURN_SRT)
    request = {"video_path": "burn/clip.mp4", "subtitle_path": "burn/subs.srt", "avoid_area": [0, 200, 480, 270]}
    await media_client.submit("ffmpeg.burn_subtitles", request, task_id="burn")
    await media_client.submit(
        "ffmpeg.burn_subtitles", {**request, "avoid_area": None, "font": "No Such Font"}, task_id="burn-font"
    )
    record = await media_client.wait("burn", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"]["ffmpeg.burn_subtitles"]["output"]
    assert out["cues_count"] == 2
    assert abs(out["duration_s"] - 3.0) < 0.1
    seen = read_text(frame_at(share / out["video_path"], 1.5))
    texts = " ".join(t for t, _ in seen)
    assert "HELLOWORLD" in texts, seen
    assert "SECONDLINE" in texts, seen
    bottoms = [bottom for text, bottom in seen if "HELLO" in text or "SECOND" in text]
    assert max(bottoms) < 200, seen  # above the region the client named
    assert not [t for t, _ in read_text(frame_at(share / out["video_path"], 2.8)) if "HELLO" in t]

    fallback = await media_client.wait("burn-font", timeout_s=60)
    assert fallback["status"] == "SUCCESS", fallback
    out = fallback["stages"]["ffmpeg.burn_subtitles"]["output"]
    assert "No Such Font" in out["font_note"]
    assert out["font"] == "DejaVu Sans"
    assert "HELLOWORLD" in " ".join(t for t, _ in read_text(frame_at(share / out["video_path"], 1.5)))


def subtitle_streams(path: Path) -> list[tuple[str, str | None, str]]:
    with av.open(str(path)) as container:
        return [(s.codec_context.name, s.metadata.get("language"), s.type) for s in container.streams.subtitles]


async def test_subtitle_tracks_are_added_one_per_language_with_their_tags_and_the_picture_copied(
    media_system: System, media_client: Client
) -> None:
    share = media_system.share_dir
    make_video(share / "tracks" / "clip.mp4", 2.0, size="160x120")
    make_video(share / "tracks" / "clip.mkv", 2.0, size="160x120")
    (share / "tracks" / "en.srt").write_text("1\n00:00:00,200 --> 00:00:01,500\nHello.\n")
    (share / "tracks" / "fr.vtt").write_text("WEBVTT\n\n00:00:00.200 --> 00:00:01.500\nBonjour.\n")
    tracks = [
        {"subtitle_path": "tracks/en.srt", "language": "eng", "default": True},
        {"subtitle_path": "tracks/fr.vtt", "language": "fra", "title": "Français"},
    ]
    await media_client.submit(
        "ffmpeg.add_subtitle_tracks", {"video_path": "tracks/clip.mp4", "tracks": tracks}, task_id="mp4"
    )
    await media_client.submit(
        "ffmpeg.add_subtitle_tracks",
        {"video_path": "tracks/clip.mkv", "tracks": tracks, "mkv_codec": "webvtt"},
        task_id="mkv",
    )
    for task_id, codec in (("mp4", "mov_text"), ("mkv", "webvtt")):
        record = await media_client.wait(task_id, timeout_s=60)
        assert record["status"] == "SUCCESS", record
        out = record["stages"]["ffmpeg.add_subtitle_tracks"]["output"]
        assert (out["codec"], out["languages"]) == (codec, ["eng", "fra"])
        path = share / out["video_path"]
        assert subtitle_streams(path) == [(codec, "eng", "subtitle"), (codec, "fra", "subtitle")]
        source = share / "tracks" / f"clip.{task_id}"
        with av.open(str(path)) as made, av.open(str(source)) as original:
            assert made.streams.video[0].codec_context.name == original.streams.video[0].codec_context.name
            assert made.streams.video[0].frames == original.streams.video[0].frames

    status, body, _ = await media_client.request(
        "POST",
        "/v1/tasks",
        json={
            "task_name": "ffmpeg.add_subtitle_tracks",
            "input_data": {"video_path": "v.mp4", "tracks": [{"subtitle_path": "a.srt", "language": "fr"}]},
        },
    )
    assert status == 422, body
    assert body["errors"][0]["pointer"] == "$.input_data.tracks[0].language"
