"""The look-ahead window: frames wait until the frames after them are seen, then are repaired and written.

Memory is bounded by two rings. Full frames wait ``ahead`` frames before they are written (a ring of at most
``ahead + 1`` frames: ``inpainting.lookahead_s`` seconds, capped by ``inpainting.window_mib``). Only the
band region of each frame (the subtitle area and the rows above it that give the motion) is kept as
decoded, with its text mask and motion, ``ahead`` frames forward and ``behind`` frames back. A repaired
frame takes what its neighbours saw (``actors.inpainting.propagate``); what none saw comes from the previous
repaired frame where it still matches (a stable fill while a line stays up), and the rest is invented by
the engine (PatchMatch or OpenCV). With a quick engine given (OpenCV beside PatchMatch), PatchMatch runs on
big holes only (a fifth of the text or more), at most once in 12 frames; its fill is carried on from frame
to frame, and slivers and the frames between go to the quick engine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.inpainting import motion
from actors.inpainting.inpainter import Inpainter, mask_box
from actors.inpainting.propagate import (
    Observation,
    Patches,
    crop,
    fill_from_neighbours,
    nearest_first,
    take,
    warped,
)
from actors.inpainting.repair import BandRepairer

if TYPE_CHECKING:
    import numpy as np

# Rows above the band that the motion is estimated on, besides the band itself.
_MOTION_ROWS = 48
# The repair works on the text's box grown by this much: the surroundings the tiles and seams are judged on.
_CONTEXT_PX = 24
# Leftovers under this share of the text are invented by the quick engine: texture matters in big holes.
_BIG_HOLE_SHARE = 0.2
# The slow engine runs at most once in this many frames; what it invented is carried to the next ones.
_SLOW_EVERY_FRAMES = 12


@dataclass
class LineTally:
    """What the repair did for one subtitle line (one mask, while its text stays unchanged)."""

    first_frame: int
    last_frame: int
    masked_px: int
    frames: int = 0
    pixels: int = 0
    seen: int = 0
    carried: int = 0
    invented: int = 0


@dataclass
class TextWindow:
    """Repair frames ``ahead`` frames behind the decoder, from the band regions of the frames around them."""

    masks: BandRepairer
    ahead: int
    behind: int
    repair_range: tuple[int, int] = (0, 1 << 62)
    # invents small leftovers (slivers a moving view did not cover) where the engine is slow (PatchMatch)
    quick: Inpainter | None = None
    lines: dict[int, LineTally] = field(default_factory=dict)
    repaired: int = 0
    _waiting: deque[tuple[int, np.ndarray]] = field(default_factory=deque, repr=False)
    _seen: dict[int, Observation] = field(default_factory=dict, repr=False)
    _line_of: dict[int, int] = field(default_factory=dict, repr=False)
    _last_grey: np.ndarray | None = field(default=None, repr=False)
    _points: np.ndarray | None = field(default=None, repr=False)
    _shot: int = 0
    _previous: tuple[Observation, np.ndarray] | None = field(default=None, repr=False)
    _slow_at: int = -(1 << 30)

    @property
    def top(self) -> int:
        """Return the first row of the kept region (the band and the rows above it)."""
        return max(0, self.masks.area[1] - _MOTION_ROWS)

    def push(self, frame: np.ndarray, index: int) -> list[np.ndarray]:
        """Take the next decoded frame (kept, not copied); return the frames now ready to write, in order."""
        self._observe(frame, index)
        self._waiting.append((index, frame))
        ready = []
        while self._waiting and self._waiting[0][0] + self.ahead <= index:
            ready.append(self._emit())
        return ready

    def drain(self) -> list[np.ndarray]:
        """Return every frame still waiting, repaired (the end of the video)."""
        return [self._emit() for _ in range(len(self._waiting))]

    def _observe(self, frame: np.ndarray, index: int) -> None:
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        x1, y1, x2, y2 = self.masks.area
        region = frame[self.top : y2, x1:x2].copy()
        band_mask = self.masks.mask_for(region[y1 - self.top :])
        mask = None
        if band_mask is not None:
            mask = np.zeros(region.shape[:2], dtype=bool)
            mask[y1 - self.top :] = band_mask
            self._tally(index, int(band_mask.sum()))
        grey, scale = motion.small_grey(region)
        to_shot = motion.identity()
        previous = self._seen.get(index - 1)
        if previous is not None and self._last_grey is not None:
            known = np.ones(grey.shape, dtype=bool)
            if previous.mask is not None:
                known = cv2.resize((~_grown(previous.mask, 4)).astype(np.uint8), grey.shape[::-1]) > 0
            found, self._points = motion.track(self._last_grey, grey, known, self._points)
            step = motion.scaled(found, scale)
            if step is None:
                self._shot += 1
            else:
                to_shot = previous.to_shot @ np.linalg.inv(step)
        self._last_grey = grey
        line = self.masks.lines if mask is not None else 0
        self._seen[index] = Observation(index, region, mask, self._shot, to_shot, line)

    def _tally(self, index: int, masked_px: int) -> None:
        line = self.masks.lines
        tally = self.lines.get(line)
        if tally is None:
            tally = self.lines[line] = LineTally(first_frame=index, last_frame=index, masked_px=masked_px)
        tally.last_frame = index
        self._line_of[index] = line

    def _emit(self) -> np.ndarray:
        index, frame = self._waiting.popleft()
        current = self._seen[index]
        first, last = self.repair_range
        if current.mask is not None and first <= index < last:
            region = self._repair(current)
            x1, _, x2, y2 = self.masks.area
            frame[self.top : y2, x1:x2] = region
            self._previous = (current, region)
            self.repaired += 1
        else:
            self._previous = None
        for old in [i for i in self._seen if i < index - self.behind]:
            del self._seen[old]
        return frame

    def _repair(self, current: Observation) -> np.ndarray:
        import numpy as np  # noqa: PLC0415

        assert current.mask is not None  # noqa: S101
        box = mask_box(current.mask, _CONTEXT_PX)
        assert box is not None  # noqa: S101  (a mask is never empty)
        x1, y1, x2, y2 = box
        part = crop(current, box)
        assert part.mask is not None  # noqa: S101
        patches = Patches(part.mask)
        order = nearest_first(current.index, self._seen)
        filled = fill_from_neighbours(part, (self._seen[i] for i in order), patches)
        carried = 0
        if filled.left.any() and self._previous is not None and self._previous[0].shot == current.shot:
            before, repaired = self._previous
            moved, _ = warped(Observation(before.index, repaired, None, before.shot, before.to_shot), part)
            carried = take(part, filled.region, filled.left, (moved, np.ones(part.mask.shape, dtype=bool)), patches)
        region = current.region.copy()
        region[y1:y2, x1:x2] = filled.region
        invented = int(filled.left.sum())
        if invented:
            left = np.zeros(current.mask.shape, dtype=bool)
            left[y1:y2, x1:x2] = filled.left
            big = invented >= _BIG_HOLE_SHARE * int(current.mask.sum())
            slow_due = current.index - self._slow_at >= _SLOW_EVERY_FRAMES
            engine = self.masks.inpainter
            if self.quick is not None and not (big and slow_due):
                engine = self.quick
            elif self.quick is not None:
                self._slow_at = current.index
            region = engine.inpaint(region, left)
        tally = self.lines[self._line_of[current.index]]
        tally.frames += 1
        tally.pixels += int(current.mask.sum())
        tally.seen += filled.taken
        tally.carried += carried
        tally.invented += invented
        self.masks.temporal_pixels += filled.taken + carried
        return region


def _grown(mask: np.ndarray, px: int) -> np.ndarray:
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    return np.asarray(cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0)
