"""Subtitle cues and their file formats: SRT, WebVTT, ASS and segments JSON (read and write)."""

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


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Return the blank-line separated blocks of ``text`` with the 1-based number of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if line.strip():
            if not current:
                first = number
            current.append(line)
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def _bad_line(number: int, line: str, expected: str) -> ValueError:
    return ValueError(f"line {number}: expected {expected}, got {line.strip()[:80]!r}")


def parse_srt(text: str, *, strict: bool = False) -> list[Cue]:
    """Parse SRT text into cues (a ``Speaker: `` prefix is kept in the text).

    Lenient by default (blocks without a timing line are skipped); ``strict`` refuses them.

    Raises:
        ValueError: (strict) a block has no timing line or ends before it starts; the message names the line.
    """
    cues = []
    for first, lines in _blocks(text):
        for i, line in enumerate(lines[:2]):
            match = _SRT_TIMING.match(line)
            if match:
                g = match.groups()
                cue = Cue(start_s=_seconds(*g[:4]), end_s=_seconds(*g[4:]), text="\n".join(lines[i + 1 :]).strip())
                if strict and cue.end_s < cue.start_s:
                    raise _bad_line(first + i, line, "an end time after the start time")
                cues.append(cue)
                break
        else:
            if strict:
                at = 1 if len(lines) > 1 and lines[0].strip().isdigit() else 0
                raise _bad_line(first + at, lines[at], "a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm'")
    return cues


_VTT_SKIP = ("WEBVTT", "NOTE", "STYLE", "REGION")


def parse_vtt(text: str, *, strict: bool = False) -> list[Cue]:
    """Parse WebVTT text into cues (``<v Speaker>`` voice tags become the speaker).

    Raises:
        ValueError: (strict) a cue block has no timing line; the message names the line.
    """
    cues = []
    for first, lines in _blocks(text):
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
        else:
            if strict and not lines[0].strip().startswith(_VTT_SKIP):
                raise _bad_line(first, lines[0], "a timing line 'HH:MM:SS.mmm --> HH:MM:SS.mmm'")
    return cues


_ASS_TIME = re.compile(r"^\s*(\d+):(\d{2}):(\d{2})\.(\d{1,3})\s*$")
_ASS_OVERRIDE = re.compile(r"\{[^}]*\}")


def _ass_seconds(value: str, number: int, line: str) -> float:
    match = _ASS_TIME.match(value)
    if not match:
        raise _bad_line(number, line, "an ASS time 'H:MM:SS.cc'")
    h, m, sec, frac = match.groups()
    return int(h) * 3600 + int(m) * 60 + int(sec) + int(frac) / float(10 ** len(frac))


def parse_ass(text: str) -> list[Cue]:
    """Parse the ``Dialogue`` lines of Advanced SubStation Alpha (the Name field is the speaker).

    Raises:
        ValueError: a Dialogue line comes before the Events ``Format`` line or has bad times; names the line.
    """
    fields: list[str] | None = None
    cues = []
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        key, _, rest = line.partition(":")
        names = [f.strip() for f in rest.split(",")]
        if key.strip() == "Format" and fields is None and "Text" in names:
            fields = names
        elif key.strip() == "Dialogue":
            if fields is None:
                raise _bad_line(number, line, "the [Events] Format line before Dialogue lines")
            values = dict(zip(fields, rest.strip().split(",", len(fields) - 1), strict=False))
            if "Text" not in values:
                raise _bad_line(number, line, f"{len(fields)} comma-separated fields")
            body = _ASS_OVERRIDE.sub("", values["Text"]).replace("\\N", "\n").replace("\\n", "\n").strip()
            start = _ass_seconds(values.get("Start", ""), number, line)
            cues.append(
                Cue(
                    start_s=start,
                    end_s=_ass_seconds(values.get("End", ""), number, line),
                    text=body,
                    speaker=values.get("Name", "").strip() or None,
                )
            )
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


def read_cues(path: Path, shown_as: str, *, strict: bool = False) -> list[Cue]:
    """Read a subtitle file by its extension (``.srt``, ``.vtt``, ``.ass``/``.ssa``, ``.json``).

    ``strict`` refuses SRT and WebVTT blocks without a timing line instead of skipping them.

    Raises:
        InputFileError: the extension is unknown or the file cannot be parsed (naming the line when it can).
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".srt":
            cues = parse_srt(text, strict=strict)
        elif suffix == ".vtt":
            cues = parse_vtt(text, strict=strict)
        elif suffix in (".ass", ".ssa"):
            cues = parse_ass(text)
        elif suffix == ".json":
            cues = cues_from_segments(msgspec.json.decode(text))
        else:
            raise InputFileError(f"{shown_as!r}: unknown subtitle format {suffix!r}; use .srt, .vtt, .ass or .json")
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
