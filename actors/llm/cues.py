"""Cues as the model sees them: one line per cue (breaks as a marker), speakers kept out, output file names."""

from __future__ import annotations

import re
from pathlib import Path

from actors.llm.lines import BREAK
from actors.subtitles.formats import Cue
from actors.worker.runtime import TaskRun

# SRT has no speaker field: generate_files writes speakers as a ``SPEAKER_00: `` prefix.
_SPEAKER_PREFIX = re.compile(r"^((?:SPEAKER|Speaker)[ _]?\d+):\s+")
_BREAK_SPLIT = re.compile(rf"\s*{re.escape(BREAK)}\s*", re.IGNORECASE)


def split_speaker(cue: Cue) -> Cue:
    """Return the cue with a ``SPEAKER_00: `` text prefix moved to its speaker."""
    if cue.speaker is None:
        match = _SPEAKER_PREFIX.match(cue.text)
        if match:
            return Cue(start_s=cue.start_s, end_s=cue.end_s, text=cue.text[match.end() :], speaker=match.group(1))
    return cue


def as_line(text: str) -> str:
    """Return a cue's text as one line, its line breaks as the break marker."""
    return f" {BREAK} ".join(part.strip() for part in text.splitlines() if part.strip())


def pieces(line: str) -> list[str]:
    """Return a model's line split at its break markers."""
    return [p for p in _BREAK_SPLIT.split(line) if p]


def target_path(run: TaskRun, source: str, tag: str) -> Path:
    """Return the output file for ``source`` tagged with ``tag`` (a language, "proofread"), same format."""
    path = Path(source)
    suffix = path.suffix.lower() if path.suffix.lower() in (".srt", ".vtt", ".json") else ".srt"
    safe_tag = re.sub(r"[^A-Za-z0-9_-]+", "_", tag).strip("_") or "out"
    return run.output_dir / f"{path.stem}.{safe_tag}{suffix}"
