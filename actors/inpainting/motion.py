"""The background's motion between two frames of the band region, and warps by it.

Motion is a similarity transform (shift, rotation, scale) from sparse features tracked with pyramidal
Lucas-Kanade and fitted with RANSAC, away from the text (its masks are left out). Too few features that
agree mark a cut: no pixel is carried across it. A flat region with too few features falls back to phase
correlation (a shift). Transforms are 3x3 matrices mapping one frame's region coordinates to another's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_MAX_FEATURES = 200
# Motion is estimated on the region scaled down to at most this width.
MOTION_WIDTH_PX = 640
_FEATURE_QUALITY = 0.01
_FEATURE_SPACING_PX = 7
_MIN_FEATURES = 12
# Below this many features carried over from the last frame, fresh ones are searched for.
_REFRESH_FEATURES = 120
_MIN_INLIERS = 10
_MIN_INLIER_SHARE = 0.3
_RANSAC_PX = 1.0
# Phase correlation counts only with at least this response (0..1).
_MIN_RESPONSE = 0.1
# Without features and without a correlation peak, a mean difference above this (0..255) is a cut.
_CUT_DIFFERENCE = 30.0
# A transform this close to the identity is the identity (no resampling, no blur).
_STILL_PX = 0.02
_STILL_LINEAR = 1e-4


def identity() -> np.ndarray:
    """Return the 3x3 identity transform."""
    import numpy as np  # noqa: PLC0415

    return np.eye(3, dtype=np.float64)


def is_identity(matrix: np.ndarray) -> bool:
    """Return whether a transform moves no pixel by more than a fiftieth of a pixel (over a small region)."""
    import numpy as np  # noqa: PLC0415

    linear = np.abs(matrix[:2, :2] - np.eye(2)).max()
    return bool(linear < _STILL_LINEAR and np.abs(matrix[:2, 2]).max() < _STILL_PX)


def small_grey(region: np.ndarray) -> tuple[np.ndarray, float]:
    """Return an RGB region as 8-bit grey at most ``MOTION_WIDTH_PX`` wide, and the scale it was shrunk by."""
    import cv2  # noqa: PLC0415

    grey = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, MOTION_WIDTH_PX / grey.shape[1])
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey, scale


def scaled(matrix: np.ndarray | None, scale: float) -> np.ndarray | None:
    """Return a transform found on images shrunk by ``scale`` as a transform of the full-size ones."""
    if matrix is None or scale == 1.0:
        return matrix
    shrink = identity()
    shrink[0, 0] = shrink[1, 1] = scale
    import numpy as np  # noqa: PLC0415

    return np.asarray(np.linalg.inv(shrink) @ matrix @ shrink)


def estimate(before: np.ndarray, after: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """Return the 3x3 transform taking ``before``'s coordinates to ``after``'s, or None at a cut.

    ``before`` and ``after`` are 8-bit grey regions of the same shape; ``known`` marks the pixels of
    ``before`` that are background (the text left out).
    """
    return track(before, after, known, None)[0]


def track(
    before: np.ndarray, after: np.ndarray, known: np.ndarray, points: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return the transform (or None at a cut) and the features to track from ``after`` on.

    ``points`` are the features the previous step left (positions in ``before``); those on text are
    dropped, and fresh features are found when too few remain: most frames skip the feature search.
    """
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    if points is not None:
        height, width = known.shape
        xs = np.clip(points[:, 0, 0].astype(int), 0, width - 1)
        ys = np.clip(points[:, 0, 1].astype(int), 0, height - 1)
        points = points[known[ys, xs]]
    if points is None or len(points) < _REFRESH_FEATURES:
        points = cv2.goodFeaturesToTrack(
            before, _MAX_FEATURES, _FEATURE_QUALITY, _FEATURE_SPACING_PX, mask=known.astype(np.uint8)
        )
    if points is None or len(points) < _MIN_FEATURES:
        return _shift_or_cut(before, after), None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, points, None, winSize=(15, 15), maxLevel=2)
    tracked = status.ravel() == 1
    if int(tracked.sum()) < _MIN_FEATURES:
        return None, None
    affine, inliers = cv2.estimateAffinePartial2D(
        points[tracked], moved[tracked], method=cv2.RANSAC, ransacReprojThreshold=_RANSAC_PX
    )
    if affine is None or inliers is None:
        return None, None
    count = int(inliers.sum())
    if count < _MIN_INLIERS or count < _MIN_INLIER_SHARE * int(tracked.sum()):
        return None, None
    matrix = identity()
    matrix[:2] = affine
    kept = moved[tracked][inliers.ravel() == 1]
    return (identity() if is_identity(matrix) else matrix), kept


def _shift_or_cut(before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """Return the shift phase correlation finds, the identity over a flat unchanged region, or None (a cut)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    a, b = before.astype(np.float32), after.astype(np.float32)
    (dx, dy), response = cv2.phaseCorrelate(a, b)
    if response >= _MIN_RESPONSE:
        matrix = identity()
        matrix[:2, 2] = (dx, dy)
        return identity() if is_identity(matrix) else matrix
    return identity() if float(np.abs(a - b).mean()) < _CUT_DIFFERENCE else None


def translation(dx: float, dy: float) -> np.ndarray:
    """Return the 3x3 transform moving every pixel by (dx, dy)."""
    matrix = identity()
    matrix[:2, 2] = (dx, dy)
    return matrix


def _whole_shift(matrix: np.ndarray) -> tuple[int, int] | None:
    """Return the whole-pixel shift a transform is (within a fiftieth of a pixel), or None."""
    import numpy as np  # noqa: PLC0415

    shift = np.rint(matrix[:2, 2])
    return (int(shift[0]), int(shift[1])) if is_identity(matrix @ translation(-shift[0], -shift[1])) else None


def _shifted(image: np.ndarray, dx: int, dy: int, shape: tuple[int, int]) -> np.ndarray:
    """Return the ``shape`` output whose pixel (x, y) is ``image``'s (x - dx, y - dy), zero outside it."""
    import numpy as np  # noqa: PLC0415

    height, width = shape
    out = np.zeros((height, width, *image.shape[2:]), dtype=image.dtype)
    top, left = max(0, dy), max(0, dx)
    bottom, right = min(height, image.shape[0] + dy), min(width, image.shape[1] + dx)
    if bottom > top and right > left:
        out[top:bottom, left:right] = image[top - dy : bottom - dy, left - dx : right - dx]
    return out


def warp(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Return the ``shape`` (height, width) view of ``image`` moved by ``matrix``, zero outside it.

    A whole-pixel shift is a copy (no resampling blur); anything else is resampled (bicubic, or nearest).
    """
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    whole = _whole_shift(matrix)
    if whole is not None:
        return _shifted(image, whole[0], whole[1], shape)
    height, width = shape
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_CUBIC
    source = image.astype(np.uint8) if image.dtype == bool else image
    moved = cv2.warpAffine(source, matrix[:2], (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return moved.astype(bool) if image.dtype == bool else moved
