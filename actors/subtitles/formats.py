"""Subtitle cues and their file formats: SRT, WebVTT, ASS (write) and SRT, WebVTT, segments JSON (read)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from actors.errors import InputFileError


class Cue(msgspec.Struct, kw_only=True):
    """One timed subtitle: start and end in seconds, text (lines joined by newlines), optional speaker."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


_TIME = r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})"
_SRT_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_VTT_TIMING = re.compile(r"^\s*(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})\s*-->\s*(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})")
_VTT_VOICE = re.compile(r"^<v\s+([^>]+)>(.*)$", re.DOTALL)


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def format_timestamp(seconds: float, sep: str = ",") -> str:
    """Return ``HH:MM:SS,mmm`` (SRT) or with ``sep='.'`` ``HH:MM:SS.mmm`` (WebVTT)."""
    total_ms = max(0, round(seconds * 1000))
    h, rest = divmod(total_ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _ass_timestamp(seconds: float) -> str:
    total_cs = max(0, round(seconds * 100))
    h, rest = divmod(total_cs, 360_000)
    m, rest = divmod(rest, 6000)
    s, cs = divmod(rest, 100)
    return f"{h:d}:{m:02d}:{s:02d}.{cs:02d}"


def parse_srt(text: str) -> list[Cue]:
    """Parse SRT text into cues (a ``Speaker: `` prefix is kept in the text)."""
    cues = []
    for block in re.split(r"\r?\n\s*\r?\n", text.strip().lstrip("\ufeff")):
        lines = block.splitlines()
        for i, line in enumerate(lines[:2]):
            match = _SRT_TIMING.match(line)
            if match:
                g = match.groups()
                body = "\n".join(lines[i + 1 :]).strip()
                cues.append(Cue(start_s=_seconds(*g[:4]), end_s=_seconds(*g[4:]), text=body))
                break
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """Parse WebVTT text into cues (``<v Speaker>`` voice tags become the speaker)."""
    cues = []
    for block in re.split(r"\r?\n\s*\r?\n", text.strip().lstrip("\ufeff")):
        lines = block.splitlines()
        for i, line in enumerate(lines[:2]):
            match = _VTT_TIMING.match(line)
            if match:
                g = match.groups()
                body = "\n".join(lines[i + 1 :]).strip()
                speaker = None
                voice = _VTT_VOICE.match(body)
                if voice:
                    speaker, body = voice.group(1).strip(), voice.group(2).replace("</v>", "").strip()
                cues.append(Cue(start_s=_seconds(*g[:4]), end_s=_seconds(*g[4:]), text=body, speaker=speaker))
                break
    return cues


def cues_from_segments(data: Any) -> list[Cue]:
    """Read cues from segments JSON: a list, or an object with ``segments`` or ``cues``."""
    items: Any = data.get("segments", data.get("cues", [])) if isinstance(data, dict) else data
    return [
        Cue(
            start_s=float(s.get("start", s.get("start_s", 0.0))),
            end_s=float(s.get("end", s.get("end_s", 0.0))),
            text=str(s.get("text", "")).strip(),
            speaker=s.get("speaker"),
        )
        for s in items
    ]


def read_cues(path: Path, shown_as: str) -> list[Cue]:
    """Read a subtitle file by its extension (``.srt``, ``.vtt``, ``.json``).

    Raises:
        InputFileError: the extension is unknown or the file cannot be parsed.
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".srt":
            cues = parse_srt(text)
        elif suffix == ".vtt":
            cues = parse_vtt(text)
        elif suffix == ".json":
            cues = cues_from_segments(msgspec.json.decode(text))
        else:
            raise InputFileError(f"{shown_as!r}: unknown subtitle format {suffix!r}; use .srt, .vtt or .json")
    except (UnicodeDecodeError, msgspec.DecodeError, AttributeError, TypeError, ValueError) as exc:
        raise InputFileError(f"{shown_as!r} cannot be parsed as {suffix[1:] or 'subtitles'}: {exc}") from None
    if text.strip() and not cues:
        raise InputFileError(f"{shown_as!r} contains no subtitle cues")
    return cues


def _with_speaker(cue: Cue) -> str:
    return f"{cue.speaker}: {cue.text}" if cue.speaker else cue.text


def to_srt(cues: list[Cue]) -> str:
    """Render cues as SRT (speakers as a ``Speaker: `` prefix)."""
    blocks = [
        f"{i}\n{format_timestamp(c.start_s)} --> {format_timestamp(c.end_s)}\n{_with_speaker(c)}\n"
        for i, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """Render cues as WebVTT (speakers as ``<v Speaker>`` voice tags)."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        text = f"<v {c.speaker}>{c.text}" if c.speaker else c.text
        blocks.append(f"{format_timestamp(c.start_s, '.')} --> {format_timestamp(c.end_s, '.')}\n{text}\n")
    return "\n".join(blocks)


_ASS_HEADER = """[Script Info]
ScriptType: v4.00+
PlayResX: 1920
PlayResY: 1080
WrapStyle: 0

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,Arial,54,&H00FFFFFF,&H000000FF,&H00000000,&H64000000,0,0,0,0,100,100,0,0,1,2,1,2,60,60,50,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def to_ass(cues: list[Cue]) -> str:
    """Render cues as Advanced SubStation Alpha (speakers in the Name field)."""
    lines = [
        f"Dialogue: 0,{_ass_timestamp(c.start_s)},{_ass_timestamp(c.end_s)},Default,{c.speaker or ''},0,0,0,,"
        + c.text.replace("\n", "\\N")
        for c in cues
    ]
    return _ASS_HEADER + "\n".join(lines) + ("\n" if lines else "")


def cues_json(cues: list[Cue]) -> bytes:
    """Render cues as JSON: ``{"cues": [{start_s, end_s, text, speaker}]}``."""
    return msgspec.json.encode({"cues": cues})


WRITERS = {"srt": to_srt, "vtt": to_vtt, "ass": to_ass}


def write_cues(path: Path, cues: list[Cue]) -> None:
    """Write cues in the format named by the path's extension (``.srt``, ``.vtt``, ``.ass``, ``.json``).

    Raises:
        ValueError: the extension names no format.
    """
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "json":
        path.write_bytes(cues_json(cues))
    elif suffix in WRITERS:
        path.write_text(WRITERS[suffix](cues), encoding="utf-8")
    else:
        raise ValueError(f"no subtitle writer for {path.name!r}")
