"""Which font burnt-in subtitles are drawn with: a configured folder, the system's fonts, or a fallback.

libass finds fonts through fontconfig and the ``fontsdir`` it is given. A family that neither has is
replaced by DejaVu Sans from a folder that ships with an installed package (matplotlib's), and the task's
output says so; with no font anywhere, libass draws with whatever it finds and the output says that too.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from config.engines import FfmpegSettings

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
FALLBACK_FAMILY = "DejaVu Sans"


@dataclass(frozen=True)
class FontChoice:
    """The family to ask libass for, the folder it also searches, and a note when it is not the one asked."""

    family: str
    fonts_dir: Path | None
    note: str | None = None


def _has_fonts(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in _FONT_SUFFIXES for p in folder.iterdir())


def _system_has(family: str) -> bool:
    listing = shutil.which("fc-list")
    if listing is None:
        return False
    try:
        found = subprocess.run([listing, f":family={family}", "family"], capture_output=True, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(found.stdout.strip())


def _fallback_folder() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


def choose_font(settings: FfmpegSettings, family: str | None) -> FontChoice:
    """Return the font for a request's ``family`` (else ``ffmpeg.subtitle_font``)."""
    wanted = family or settings.subtitle_font
    configured = Path(settings.subtitle_fonts_dir) if settings.subtitle_fonts_dir else None
    if configured is not None and _has_fonts(configured):
        return FontChoice(family=wanted, fonts_dir=configured)
    if _system_has(wanted):
        note = f"ffmpeg.subtitle_fonts_dir={str(configured)!r} has no fonts; " if configured is not None else None
        return FontChoice(family=wanted, fonts_dir=None, note=f"{note}used the system's fonts" if note else None)
    fallback = _fallback_folder()
    if fallback is not None:
        note = f"font {wanted!r} not found (ffmpeg.subtitle_fonts_dir, system fonts): drawn with {FALLBACK_FAMILY}"
        return FontChoice(family=FALLBACK_FAMILY, fonts_dir=fallback, note=f"{note} from {fallback}")
    return FontChoice(
        family=wanted, fonts_dir=None, note=f"font {wanted!r} not found and no fallback font: libass's own choice"
    )
