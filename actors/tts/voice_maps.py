"""Named speaker -> voice maps kept server-side, reusable across the videos of one show.

A map is ``voice_maps/NAME.json`` in the storage root (the gateway and every worker see it): the engine it
is for and ``{speaker_label: voice}``. ``PUT /v1/tts/voice-maps/NAME`` writes one (admin scope; an unknown
voice is a 422 listing the voices); a dub that names ``voice_map`` uses it, fills the speakers it lacks with
distinct installed voices and writes them back, so the next episode gets the same voices.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import msgspec

MAP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"
FOLDER = "voice_maps"
MapName = Annotated[str, msgspec.Meta(pattern=MAP_NAME, description="a voice map's name (PUT /v1/tts/voice-maps/NAME)")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
VoiceRef = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class VoiceMap(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A stored map: which engine its voices belong to, and the voice of each speaker label."""

    engine: str | None = None
    voices: Annotated[dict[Label, VoiceRef], msgspec.Meta(max_length=256)] = msgspec.field(default_factory=dict)


_decode = msgspec.json.Decoder(VoiceMap).decode


def map_path(root: Path, name: str) -> Path:
    """Return where the map ``name`` (already checked against ``MAP_NAME``) is kept."""
    return root / FOLDER / f"{name}.json"


def read_map(root: Path, name: str) -> VoiceMap | None:
    """Return the stored map, or None when there is none.

    Raises:
        msgspec.DecodeError, msgspec.ValidationError: the file is not a voice map.
    """
    try:
        data = map_path(root, name).read_bytes()
    except FileNotFoundError:
        return None
    return _decode(data)


def write_map(root: Path, name: str, voice_map: VoiceMap) -> None:
    """Write the map atomically (a reader sees the old map or the new one, never half of one)."""
    target = map_path(root, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(msgspec.json.encode(voice_map))
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def list_maps(root: Path) -> list[str]:
    """Return the names of the stored maps, sorted."""
    folder = root / FOLDER
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
