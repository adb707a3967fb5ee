"""What the repair says about each subtitle line, and the submit check of the area against the frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from actors.errors import InputFileError
from actors.inpainting.window import LineTally
from actors.validation import InvalidInput
from config import Settings
from state import PathOutsideRoot
from state.references import is_reference
from state.storage import resolve_in_root


class LineReport(msgspec.Struct, kw_only=True):
    """One subtitle line: when it is up, how much of the picture its mask covers, where its pixels came from.

    ``seen_share``: shown by other frames; ``carried_share``: kept from the previous repaired frame (a fill
    made earlier in the line); ``invented_share``: filled by the engine in this frame.
    """

    first_frame: int
    last_frame: int
    start_s: float
    end_s: float
    masked_px: int
    masked_share: float
    seen_share: float
    carried_share: float
    invented_share: float
    note: str | None = None


def line_reports(lines: Mapping[int, LineTally], fps: float, area_px: int, frames_total: int) -> list[LineReport]:
    """Return the report of every repaired line, in order, with a note where no frame showed what it hides."""
    reports = []
    for tally in lines.values():
        if not tally.frames:
            continue
        pixels = max(1, tally.pixels)
        start_s, end_s = round(tally.first_frame / fps, 3), round((tally.last_frame + 1) / fps, 3)
        note = None
        if tally.seen == 0:
            whole = tally.first_frame == 0 and tally.last_frame >= frames_total - 1
            span = "for the whole clip" if whole else f"from {start_s} s to {end_s} s"
            note = (
                f"this line stays up {span} and no frame within the look-ahead window shows what lies behind it: "
                "filled by the engine and kept from frame to frame"
            )
        reports.append(
            LineReport(
                first_frame=tally.first_frame,
                last_frame=tally.last_frame,
                start_s=start_s,
                end_s=end_s,
                masked_px=tally.masked_px,
                masked_share=round(tally.masked_px / max(1, area_px), 4),
                seen_share=round(tally.seen / pixels, 4),
                carried_share=round(tally.carried / pixels, 4),
                invented_share=round(tally.invented / pixels, 4),
                note=note,
            )
        )
    return reports


def check_area_in_frame(settings: Settings, data: Mapping[str, Any]) -> None:
    """Refuse at submit a ``subtitle_area`` outside the video's frame (the file's header is read).

    A path given as a reference, or a file that is not a video, is left to the stage, which says why.

    Raises:
        InvalidInput: the area leaves the frame; the message gives the frame size.
    """
    from actors.ffmpeg.frames import video_info  # noqa: PLC0415  (PyAV: only when an area is given)

    area, path = data.get("subtitle_area"), data.get("video_path")
    if not isinstance(area, list) or len(area) != 4 or not isinstance(path, str) or is_reference(path):
        return
    if any(is_reference(v) or not isinstance(v, int) for v in area):
        return
    try:
        info = video_info(resolve_in_root(settings.share_root, path), path)
    except (InputFileError, PathOutsideRoot, OSError):
        return
    x2, y2 = area[2], area[3]
    if x2 > info.width or y2 > info.height:
        raise InvalidInput(
            f"subtitle_area {area} is outside the {info.width}x{info.height} frame of {path!r}: "
            f"x2 must be at most {info.width} and y2 at most {info.height}",
            "$.input_data.subtitle_area",
        )
