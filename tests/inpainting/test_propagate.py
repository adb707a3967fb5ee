"""Propagation on generated frames whose truth is known: a textured background moved frame by frame.

The text is a set of white strokes at a fixed place on screen; the background under it moves (a pan, whole
or fractional pixels), stays still, or cuts to another shot. The repaired pixels are compared with the
background that was there before the text was drawn.
"""

from __future__ import annotations

import cv2
import numpy as np

from actors.inpainting import motion
from actors.inpainting.propagate import Observation, Patches, fill_from_neighbours, nearest_first

SIZE = (240, 96)  # width, height of the band region


def texture(seed: int, width: int = 900, height: int = 140) -> np.ndarray:
    """Return a canvas of grass-like texture: coarse and fine noise in colour."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.random((height // 8, width // 8)).astype(np.float32), (width, height))
    fine = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.0)
    grain = (0.6 * coarse + 0.4 * fine - 0.5)[..., None] * 2.2
    return np.clip(np.array([80.0, 130.0, 60.0]) + grain * np.array([90.0, 100.0, 70.0]), 0, 255).astype(np.uint8)


def view(canvas: np.ndarray, x: float, y: float = 20.0) -> np.ndarray:
    """Return the SIZE window of ``canvas`` at (x, y), resampled for fractional positions."""
    matrix = np.float32([[1, 0, -x], [0, 1, -y]])
    return cv2.warpAffine(canvas, matrix, SIZE, flags=cv2.INTER_CUBIC)


def text_mask() -> np.ndarray:
    """Return glyph-like strokes (with their outline) in the lower half of the region."""
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    for x in range(30, 200, 14):
        mask[52:80, x : x + 5] = True  # vertical strokes
    mask[52:57, 30:205] = True  # a bar joining them
    return mask


def observe(frames: list[np.ndarray], masks: list[np.ndarray | None]) -> list[Observation]:
    """Return the observations of the frames as the look-ahead window builds them (motion chained, cuts)."""
    seen: list[Observation] = []
    shot = 0
    for index, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        to_shot = motion.identity()
        if seen:
            before = seen[-1]
            known = np.ones(mask.shape if mask is not None else frame.shape[:2], dtype=bool)
            if before.mask is not None:
                known = cv2.dilate(before.mask.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
            grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (before.region, frame)]
            step = motion.estimate(grey[0], grey[1], known)
            if step is None:
                shot += 1
            else:
                to_shot = before.to_shot @ np.linalg.inv(step)
        seen.append(Observation(index, frame, mask, shot, to_shot, 1 if mask is not None else 0))
    return seen


def burn(frames: list[np.ndarray], up: range) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Return the frames with white text (dark outline) drawn over the frames of ``up``, and their masks."""
    strokes = text_mask()
    outline = cv2.dilate(strokes.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    burnt, masks = [], []
    for index, frame in enumerate(frames):
        if index in up:
            drawn = frame.copy()
            drawn[outline] = (10, 10, 10)
            drawn[strokes] = (255, 255, 255)
            burnt.append(drawn)
            masks.append(outline)
        else:
            burnt.append(frame)
            masks.append(None)
    return burnt, masks


def repair(seen: list[Observation], index: int) -> tuple[np.ndarray, np.ndarray, int]:
    current = seen[index]
    assert current.mask is not None
    order = nearest_first(index, range(len(seen)))
    filled = fill_from_neighbours(current, [seen[i] for i in order], Patches(current.mask))
    return filled.region, filled.left, filled.taken


def error_under(mask: np.ndarray, repaired: np.ndarray, truth: np.ndarray) -> float:
    return float(np.abs(repaired[mask].astype(int) - truth[mask]).mean())


def test_a_whole_pixel_pan_gives_back_the_exact_background() -> None:
    canvas = texture(1)
    truth = [view(canvas, 3 * i) for i in range(20)]
    burnt, masks = burn(truth, range(6, 14))
    seen = observe(burnt, masks)

    for index in (6, 10, 13):
        repaired, left, taken = repair(seen, index)
        mask = text_mask()
        assert not left.any()  # every pixel was seen by a frame without the text
        assert taken == int(masks[index].sum())  # type: ignore[union-attr]
        assert error_under(mask, repaired, truth[index]) < 1.0  # copied, not resampled
        assert np.array_equal(repaired[~masks[index]], burnt[index][~masks[index]])  # type: ignore[operator]


def test_a_fractional_pan_is_resampled_into_place() -> None:
    canvas = texture(2)
    truth = [view(canvas, 1.7 * i, 20 + 0.3 * i) for i in range(20)]
    burnt, masks = burn(truth, range(5, 15))
    seen = observe(burnt, masks)

    repaired, left, _ = repair(seen, 9)
    # a few pixels at the strokes' ends may stay unseen if the motion moves them off every clean view
    assert left.sum() <= 0.02 * masks[9].sum()  # type: ignore[union-attr]
    done = masks[9] & ~left  # type: ignore[operator]
    assert error_under(done, repaired, truth[9]) < 6.0
    telea = cv2.inpaint(burnt[9], masks[9].astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)  # type: ignore[union-attr]
    assert error_under(done, repaired, truth[9]) < 0.5 * error_under(done, telea, truth[9])


def test_a_line_up_in_every_frame_of_a_still_shot_leaves_everything_to_invent() -> None:
    canvas = texture(3)
    truth = [view(canvas, 100) for _ in range(12)]
    burnt, masks = burn(truth, range(12))
    seen = observe(burnt, masks)

    repaired, left, taken = repair(seen, 6)

    assert taken == 0
    assert np.array_equal(left, masks[6])
    assert np.array_equal(repaired, burnt[6])


def test_nothing_is_carried_across_a_cut() -> None:
    first, second = texture(4), texture(5)
    truth = [view(first, 2 * i) for i in range(10)] + [view(second, 2 * i) for i in range(10)]
    burnt, masks = burn(truth, range(8, 13))
    seen = observe(burnt, masks)

    assert seen[10].shot == seen[9].shot + 1  # the cut is found between frames 9 and 10
    repaired, left, _ = repair(seen, 10)
    assert not left.any()
    assert error_under(masks[10], repaired, truth[10]) < 1.0  # type: ignore[arg-type]  (from frame 13 on)
    repaired, left, _ = repair(seen, 9)
    assert not left.any()
    assert error_under(masks[9], repaired, truth[9]) < 1.0  # type: ignore[arg-type]  (from frame 7 back)


def test_a_neighbour_whose_surroundings_disagree_is_not_used() -> None:
    canvas = texture(6)
    truth = [view(canvas, 2 * i) for i in range(12)]
    burnt, masks = burn(truth, range(4, 8))
    # something passes over the text's place in frames 8-11 (after the line): those views must be refused
    for index in range(8, 12):
        burnt[index] = burnt[index].copy()
        burnt[index][40:96, :] = (200, 40, 40)
    seen = observe(burnt, masks)

    repaired, left, _ = repair(seen, 7)

    assert not left.any()  # frames 0-3 saw it all
    assert error_under(masks[7], repaired, truth[7]) < 1.0  # type: ignore[arg-type]
