"""The time map of slowed spans, their snapping to the frame grid and the manifest's checks, in-process."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from actors.errors import InputFileError
from actors.ffmpeg.retime import VideoStretch, read_stretches, snapped, to_output


def test_times_before_a_span_stay_inside_it_spread_and_after_it_shift_by_what_each_span_added() -> None:
    spans = [VideoStretch(start_s=2.0, end_s=4.0, factor=1.5), VideoStretch(start_s=6.0, end_s=7.0, factor=1.2)]
    assert to_output(1.5, spans) == 1.5
    assert to_output(2.0, spans) == 2.0
    assert to_output(3.0, spans) == pytest.approx(2.0 + 1.0 * 1.5)
    assert to_output(5.0, spans) == pytest.approx(5.0 + spans[0].added_s)
    assert to_output(6.5, spans) == pytest.approx(6.5 + spans[0].added_s + 0.5 * 0.2)
    assert to_output(9.0, spans) == pytest.approx(9.0 + spans[0].added_s + spans[1].added_s)


def test_snapped_spans_cut_between_frames_last_whole_frames_and_never_drift_from_the_plan() -> None:
    rng = random.Random(25)
    fps = 10.0
    spans, t = [], 0.3
    for _ in range(40):  # many short spans with small factors: each rounds by up to half a frame
        start = t + rng.uniform(0.2, 1.0)
        end = start + rng.uniform(0.3, 2.5)
        spans.append(VideoStretch(start_s=round(start, 3), end_s=round(end, 3), factor=rng.uniform(1.01, 1.25)))
        t = end
    out = snapped(spans, fps, t + 1.0)
    planned_s = added_s = 0.0
    kept = iter(out)
    current = next(kept)
    for span in spans:
        planned_s += span.added_s
        if abs(current.start_s - span.start_s) <= 0.5 / fps + 1e-9:
            for edge in (current.start_s, current.end_s, current.end_s - current.start_s + current.added_s):
                assert abs(edge * fps - round(edge * fps)) < 1e-6
            added_s += current.added_s
            current = next(kept, current)
        assert abs(added_s - planned_s) <= 0.5 / fps + 1e-9
    assert len(out) >= len(spans) * 0.75
    assert all(1.0 < s.factor <= 2.0 for s in out)


def test_a_manifest_with_overlapping_spans_or_spans_past_the_video_is_refused(tmp_path: Path) -> None:
    good = {"video_stretches": [{"start_s": 1.0, "end_s": 2.0, "factor": 1.2}], "cues": []}
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert read_stretches(tmp_path / "good.json", "good.json", 10.0) == [
        VideoStretch(start_s=1.0, end_s=2.0, factor=1.2)
    ]
    bad = {
        "overlap.json": [{"start_s": 1.0, "end_s": 3.0, "factor": 1.2}, {"start_s": 2.0, "end_s": 4.0, "factor": 1.2}],
        "past.json": [{"start_s": 9.0, "end_s": 12.0, "factor": 1.2}],
        "factor.json": [{"start_s": 1.0, "end_s": 2.0, "factor": 2.5}],
    }
    for name, spans in bad.items():
        (tmp_path / name).write_text(json.dumps({"video_stretches": spans}))
        with pytest.raises(InputFileError, match=name):
            read_stretches(tmp_path / name, name, 10.0)
