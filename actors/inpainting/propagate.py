"""Show what the other frames saw: the pixels under a frame's text, taken from neighbours where they are clean.

Each frame's band region is kept as decoded (an ``Observation``) with its text mask and its transform to
the first frame of its shot (``actors.inpainting.motion``). To repair frame ``i``, the neighbours are tried
nearest first, alternating after and before; each is warped into frame ``i``'s coordinates and gives the
masked pixels it saw unmasked, tile by tile, where it agrees with frame ``i`` around the text (a moving
object, a wrong motion or a cut there makes it disagree). Each taken tile is shifted by the smoothed
difference between the two frames on the text's surroundings (a normalised convolution): exposure drift
and codec shifts leave no seam. What no neighbour saw stays in the returned ``left`` mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.inpainting.motion import translation, warp

if TYPE_CHECKING:
    import numpy as np

# Mask pixels closer than this join one patch; patches are judged in tiles of this width.
_PATCH_JOIN_PX = 7
_TILE_PX = 48
# A tile takes a neighbour's pixels when the text's surroundings differ by less than this (mean, 0..255).
FILL_TOLERANCE = 14.0
# The surroundings of a tile: background pixels at most this far from its text.
_RING_PX = 6
_MIN_RING_PX = 24
# Seam correction: the difference on the surroundings, smoothed with this Gaussian (sigma, pixels).
_SEAM_SIGMA_PX = 5.0
_SEAM_SHRINK = 4
# A warped pixel is seen when its "seen" channel (255: all its source pixels were) stays above this.
_SEEN_LEVEL = 250
# Source pixels read around the part that lands in the target: the bicubic kernel's reach.
_WARP_MARGIN_PX = 3
# At most this many neighbours are warped per repaired frame.
MAX_TRIES = 4
_MAX_SAME_TRIES = 2
# A neighbour under the same text is worth a try once the background moved this far (pixels).
_NEW_VIEW_PX = 2.0


@dataclass
class Observation:
    """One frame's band region as decoded, its text mask (None: no text) and where it sits in its shot."""

    index: int
    region: np.ndarray
    mask: np.ndarray | None
    shot: int
    to_shot: np.ndarray
    line: int = 0
    _seen: np.ndarray | None = field(default=None, repr=False)

    def seen(self) -> np.ndarray:
        """Return 255 where this frame shows background (its text and a pixel around it left out), else 0."""
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        if self._seen is None:
            if self.mask is None:
                self._seen = np.full(self.region.shape[:2], 255, dtype=np.uint8)
            else:
                text = cv2.dilate(self.mask.astype(np.uint8), np.ones((3, 3), np.uint8))
                self._seen = np.where(text > 0, 0, 255).astype(np.uint8)
        return self._seen


@dataclass
class Filled:
    """A repaired region, the masked pixels still to invent, and how many came from other frames."""

    region: np.ndarray
    left: np.ndarray
    taken: int


def between(source: Observation, target: Observation) -> np.ndarray:
    """Return the transform from ``source``'s region coordinates to ``target``'s (same shot)."""
    import numpy as np  # noqa: PLC0415

    return np.asarray(np.linalg.inv(target.to_shot) @ source.to_shot)


def nearest_first(current: int, indexes: Iterable[int]) -> list[int]:
    """Return ``indexes`` nearest ``current`` first; at equal distance the later frame comes first."""
    return sorted((i for i in indexes if i != current), key=lambda i: (abs(i - current), -i))


class Patches:
    """The tiles of a mask's patches and their surroundings, computed once per repaired frame."""

    def __init__(self, mask: np.ndarray) -> None:
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        join = np.ones((2 * _PATCH_JOIN_PX + 1, 2 * _PATCH_JOIN_PX + 1), np.uint8)
        _, labels = cv2.connectedComponents(cv2.dilate(mask.astype(np.uint8), join))
        tiles = (np.arange(mask.shape[1]) // _TILE_PX)[None, :]
        self.labels = np.where(labels > 0, labels * (tiles.max() + 1) + tiles, 0)
        self.count = int(self.labels.max()) + 1
        self.near_text = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        ring = np.ones((2 * _RING_PX + 1, 2 * _RING_PX + 1), np.uint8)
        self.ring = (cv2.dilate(mask.astype(np.uint8), ring) > 0) & ~self.near_text

    def agreeing(self, region: np.ndarray, moved: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Return the pixels of the tiles whose surroundings in ``moved`` (where known) match ``region``."""
        import numpy as np  # noqa: PLC0415

        ring = self.ring & known
        difference = np.abs(region[ring].astype(np.int16) - moved[ring].astype(np.int16)).mean(axis=1)
        labels = self.labels[ring]
        sums = np.bincount(labels, weights=difference, minlength=self.count)
        counts = np.bincount(labels, minlength=self.count)
        good = (counts >= _MIN_RING_PX) & (sums < FILL_TOLERANCE * np.maximum(counts, 1))
        good[0] = False
        return np.asarray(good[self.labels])


def seam_offset(region: np.ndarray, moved: np.ndarray, ring: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """Return, inside ``box``, the difference ``region - moved`` on the ``ring`` pixels, smoothed into the hole.

    The field is smooth by design: it is computed at a quarter of the size and scaled back.
    """
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    height, width = ring[box].shape
    small = (max(1, width // _SEAM_SHRINK), max(1, height // _SEAM_SHRINK))
    weight = ring[box].astype(np.float32)
    difference = (region[box].astype(np.float32) - moved[box].astype(np.float32)) * weight[..., None]
    weight_small = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    difference_small = cv2.resize(difference, small, interpolation=cv2.INTER_AREA)
    sigma = _SEAM_SIGMA_PX / _SEAM_SHRINK
    spread_weight = cv2.GaussianBlur(weight_small, (0, 0), sigma)
    spread = cv2.GaussianBlur(difference_small, (0, 0), sigma).reshape(small[1], small[0], -1)
    offset = spread / np.maximum(spread_weight, 1e-3)[..., None]
    # far from any ring pixel the estimate is noise: fade it out
    offset *= np.clip(spread_weight / 0.05, 0, 1)[..., None]
    full = cv2.resize(offset, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(full.reshape(height, width, -1))


def take(
    current: Observation, out: np.ndarray, need: np.ndarray, source: tuple[np.ndarray, np.ndarray], patches: Patches
) -> int:
    """Copy into ``out`` the needed pixels a warped source gives where its tile agrees; return how many.

    ``source`` is the warped region and where it holds known background; ``need`` loses the pixels taken.
    """
    import numpy as np  # noqa: PLC0415

    moved, known = source
    candidates = need & known
    if not candidates.any():
        return 0
    taken = candidates & patches.agreeing(current.region, moved, known)
    if not taken.any():
        return 0
    rows, cols = np.nonzero(taken)
    margin = int(3 * _SEAM_SIGMA_PX)
    height, width = taken.shape
    box = (
        slice(max(0, int(rows.min()) - margin), min(height, int(rows.max()) + margin + 1)),
        slice(max(0, int(cols.min()) - margin), min(width, int(cols.max()) + margin + 1)),
    )
    offset = seam_offset(current.region, moved, patches.ring & known, box)
    inside = taken[box]
    corrected = moved[box].astype(np.float32) + offset
    out[box][inside] = np.clip(np.rint(corrected[inside]), 0, 255).astype(np.uint8)
    need &= ~taken
    return int(inside.sum())


def warped(source: Observation, current: Observation) -> tuple[np.ndarray, np.ndarray]:
    """Return ``source``'s region in ``current``'s coordinates and where it shows background it saw.

    The pixels and their "seen" mask are warped together, the mask as a fourth channel: a resampled pixel
    counts as seen only when (nearly) all the source pixels it is made of were. Only the part of the source
    that lands in ``current`` is read.
    """
    import numpy as np  # noqa: PLC0415

    matrix = between(source, current)
    height, width = current.region.shape[:2]
    corners = np.linalg.inv(matrix) @ np.array([[0, width, 0, width], [0, 0, height, height], [1, 1, 1, 1]])
    full_height, full_width = source.region.shape[:2]
    x1, y1 = (max(0, int(np.floor(corners[i].min())) - _WARP_MARGIN_PX) for i in (0, 1))
    x2 = min(full_width, int(np.ceil(corners[0].max())) + _WARP_MARGIN_PX)
    y2 = min(full_height, int(np.ceil(corners[1].max())) + _WARP_MARGIN_PX)
    if x2 <= x1 or y2 <= y1:
        return np.zeros((height, width, 3), dtype=np.uint8), np.zeros((height, width), dtype=bool)
    part = np.empty((y2 - y1, x2 - x1, 4), dtype=np.uint8)
    part[..., :3] = source.region[y1:y2, x1:x2]
    part[..., 3] = source.seen()[y1:y2, x1:x2]
    moved = warp(part, matrix @ translation(x1, y1), (height, width))
    return moved[..., :3], moved[..., 3] >= _SEEN_LEVEL


def crop(observation: Observation, box: tuple[int, int, int, int]) -> Observation:
    """Return the part of an observation inside ``box`` (x1, y1, x2, y2), as an observation of its own."""
    x1, y1, x2, y2 = box
    mask = None if observation.mask is None else observation.mask[y1:y2, x1:x2]
    to_shot = observation.to_shot @ translation(x1, y1)
    region = observation.region[y1:y2, x1:x2]
    return Observation(observation.index, region, mask, observation.shot, to_shot, observation.line)


def fill_from_neighbours(current: Observation, neighbours: Iterable[Observation], patches: Patches) -> Filled:
    """Repair ``current``'s masked pixels from the ``neighbours`` (nearest first, same shot) that saw them.

    ``patches`` are those of ``current.mask``.
    """
    assert current.mask is not None  # noqa: S101  (only frames with text are repaired)
    out = current.region.copy()
    need = current.mask.copy()
    tries, last_same = 0, current
    ours = [n for n in neighbours if n.shot == current.shot]
    same = [n for n in ours if _same_text(n, current)]
    other = _both_ways(current.index, [n for n in ours if not _same_text(n, current)])
    taken = 0
    if len(other) >= 2 and (other[0].index - current.index) * (other[1].index - current.index) < 0:
        taken, tries, other = _blend_pair(current, out, need, (other[0], other[1]), patches), 2, other[2:]
    # frames without this text first (they saw behind all of it), then views of it from a moved background
    for neighbour in other[: MAX_TRIES - tries] + same:
        if not need.any() or tries >= MAX_TRIES + _MAX_SAME_TRIES:
            break
        if _same_text(neighbour, current):
            # under the same text, only a frame the background moved in since the last one tried shows more
            if displacement(neighbour, last_same) < _NEW_VIEW_PX:
                continue
            last_same = neighbour
        tries += 1
        taken += take(current, out, need, warped(neighbour, current), patches)
    return Filled(region=out, left=need, taken=taken)


def _blend_pair(
    current: Observation, out: np.ndarray, need: np.ndarray, pair: tuple[Observation, Observation], patches: Patches
) -> int:
    """Take what the nearest clean frames after and before saw; where both did, blend them by nearness.

    The background under the text drifts between the two views (grass in the wind, a slow zoom): the blend
    moves from one to the other as the frame does, instead of switching tile by tile.
    """
    import numpy as np  # noqa: PLC0415

    views = []
    for neighbour in pair:
        view, still = out.copy(), need.copy()
        take(current, view, still, warped(neighbour, current), patches)
        views.append((view, need & ~still))
    (first, got_first), (second, got_second) = views
    distances = [abs(n.index - current.index) for n in pair]
    weight = distances[1] / (distances[0] + distances[1])  # of the first view: the nearer, the heavier
    got = got_first | got_second
    if not got.any():
        return 0
    rows, cols = np.nonzero(got)
    box = (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))
    a = got_first[box].astype(np.float32)[..., None] * weight
    b = got_second[box].astype(np.float32)[..., None] * (1 - weight)
    total = np.maximum(a + b, 1e-6)
    mixed = (first[box].astype(np.float32) * a + second[box].astype(np.float32) * b) / total
    out[box] = np.where(got[box][..., None], np.clip(np.rint(mixed), 0, 255).astype(np.uint8), out[box])
    need &= ~got
    return int(got.sum())


def _both_ways(index: int, neighbours: list[Observation]) -> list[Observation]:
    """Return ``neighbours`` (nearest first) alternating after and before ``index``: both directions get tried."""
    after = [n for n in neighbours if n.index > index]
    before = [n for n in neighbours if n.index < index]
    mixed = [n for pair in zip(after, before, strict=False) for n in pair]
    shorter = min(len(after), len(before))
    return mixed + after[shorter:] + before[shorter:]


def _same_text(one: Observation, other: Observation) -> bool:
    return one.mask is not None and other.mask is not None and one.line == other.line


def displacement(one: Observation, other: Observation) -> float:
    """Return how far (pixels) the background at the region's corners moved between two frames."""
    import numpy as np  # noqa: PLC0415

    height, width = one.region.shape[:2]
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64).T
    moved = between(one, other) @ corners
    return float(np.abs(moved[:2] - corners[:2]).max())
