"""Tidy the short pieces a diarization leaves at speaker changes and overlaps (after refine.py's turn split).

Two patterns stay wrong after the split, both on pieces too short for a reliable embedding:

- an overlap onset: the segmentation hears a second voice begin inside someone's turn for a fraction of a
  second, then loses it and carries the first voice on, until the split finds the newcomer taking over a
  moment later. The fragment's own cluster is a guess from a few hundred milliseconds of overlapped speech.
  A fragment shorter than ``FRAGMENT_S`` lying inside another speaker's turn, when that turn hands over to a
  third speaker within ``ONSET_S`` after it, is that newcomer's start: the newcomer's turn is extended back
  to it (the stretch in between is overlap). Other covered fragments are left as they are.
- a sliver: a turn shorter than ``FRAGMENT_S`` that only touches turns of one other speaker (the split's
  step leaves such ends) goes to that speaker.
"""

from __future__ import annotations

from actors.pyannote_audio.turns import Turn

FRAGMENT_S = 0.3
ONSET_S = 1.0
_TOUCH_S = 0.05


def _covering(fragment: Turn, turns: list[Turn]) -> Turn | None:
    for turn in turns:
        if turn.speaker != fragment.speaker and turn.start <= fragment.start and fragment.end <= turn.end:
            return turn
    return None


def _newcomer(fragment: Turn, cover: Turn, turns: list[Turn]) -> Turn | None:
    """The turn of a third speaker that takes over from ``cover`` within ``ONSET_S`` of the fragment's end."""
    if cover.end - fragment.end > ONSET_S:
        return None
    for turn in turns:
        if turn.speaker not in (cover.speaker, fragment.speaker) and abs(turn.start - cover.end) <= _TOUCH_S:
            return turn
    return None


def _neighbours(turn: Turn, turns: list[Turn]) -> set[str]:
    return {
        other.speaker
        for other in turns
        if other is not turn and (abs(other.end - turn.start) <= _TOUCH_S or abs(other.start - turn.end) <= _TOUCH_S)
    }


def smooth_turns(turns: list[Turn]) -> list[Turn]:
    """Return ``turns`` with overlap onsets given to the speaker who takes over and slivers to their neighbour."""
    out = list(turns)
    for fragment in [t for t in turns if t.end - t.start < FRAGMENT_S]:
        cover = _covering(fragment, out)
        if cover is not None:
            newcomer = _newcomer(fragment, cover, out)
            if newcomer is not None:
                out.remove(fragment)
                out[out.index(newcomer)] = Turn(speaker=newcomer.speaker, start=fragment.start, end=newcomer.end)
            continue
        around = _neighbours(fragment, out)
        if len(around) == 1 and fragment.speaker not in around:
            out[out.index(fragment)] = Turn(speaker=around.pop(), start=fragment.start, end=fragment.end)
    return _merged(sorted(out, key=lambda t: (t.start, t.end)))


def _merged(turns: list[Turn]) -> list[Turn]:
    """Join a speaker's turns that touch or overlap."""
    out: list[Turn] = []
    for turn in turns:
        last = next((t for t in reversed(out) if t.speaker == turn.speaker), None)
        if last is not None and turn.start <= last.end + 1e-6:
            out[out.index(last)] = Turn(speaker=turn.speaker, start=last.start, end=max(last.end, turn.end))
        else:
            out.append(turn)
    return out
