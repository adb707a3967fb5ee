"""Subtitle reading rules as named profiles: line length, lines per cue, time on screen, reading speed, gaps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from actors.errors import InputError


class ProfileError(InputError):
    """Raised when a profile name is unknown or a custom profile's numbers contradict each other."""


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """The reading rules a cue must keep."""

    name: str
    max_chars_per_line: int  # netflix 42
    max_lines: int  # 2
    min_duration_s: float  # 5/6 s
    max_duration_s: float  # 7 s
    max_cps: float  # characters a second: 20 (children 17)
    min_gap_frames: int  # frames between two cues: 2


PROFILES: dict[str, Profile] = {
    # Netflix English timed-text style guide
    "netflix": Profile(
        name="netflix",
        max_chars_per_line=42,
        max_lines=2,
        min_duration_s=5 / 6,
        max_duration_s=7.0,
        max_cps=20.0,
        min_gap_frames=2,
    ),
    # BBC subtitle guidelines: 37 characters (teletext heritage), about 160-180 words a minute
    "bbc": Profile(
        name="bbc",
        max_chars_per_line=37,
        max_lines=2,
        min_duration_s=1.0,
        max_duration_s=7.0,
        max_cps=17.0,
        min_gap_frames=2,
    ),
    # Netflix children's programmes: 17 characters a second
    "children": Profile(
        name="children",
        max_chars_per_line=42,
        max_lines=2,
        min_duration_s=5 / 6,
        max_duration_s=7.0,
        max_cps=17.0,
        min_gap_frames=2,
    ),
}

CUSTOM = "custom"
_NUMBERS = ("max_chars_per_line", "max_lines", "min_duration_s", "max_duration_s", "max_cps", "min_gap_frames")
_INTEGERS = frozenset({"max_chars_per_line", "max_lines", "min_gap_frames"})

ProfileName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(netflix|bbc|children)\Z",
        description="A named profile: netflix, bbc or children (or an object of numbers: a custom profile)",
    ),
]


class CustomProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The numbers of a ``custom`` profile; a minimum duration at most 3 s and a maximum of at least 3 s."""

    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)]
    max_lines: Annotated[int, msgspec.Meta(ge=1, le=4)]
    min_duration_s: Annotated[float, msgspec.Meta(ge=0.1, le=3, description="at most 3 s (never above the maximum)")]
    max_duration_s: Annotated[float, msgspec.Meta(ge=3, le=60, description="at least 3 s (never below the minimum)")]
    max_cps: Annotated[float, msgspec.Meta(ge=5, le=100)]
    min_gap_frames: Annotated[int, msgspec.Meta(ge=0, le=25)] = 2


def profile_of(choice: str | CustomProfile) -> Profile:
    """Return the profile a request names (a name) or spells out (a custom profile's numbers).

    Raises:
        ProfileError: the name is unknown.
    """
    if isinstance(choice, CustomProfile):
        return Profile(name=CUSTOM, **msgspec.structs.asdict(choice))
    return resolve_profile(choice)


def known_names() -> list[str]:
    """Return the profile names a request may use."""
    return [*PROFILES, CUSTOM]


def resolve_profile(name: str = "netflix", custom: Mapping[str, float] | None = None) -> Profile:
    """Return the named profile; ``custom`` takes every number from ``custom``.

    Raises:
        ProfileError: the name is unknown (the message lists the known names), ``custom`` lacks a number or
            has an unknown one, a number is out of range, or the numbers contradict each other.
    """
    if name != CUSTOM:
        if name not in PROFILES:
            raise ProfileError(f"unknown subtitle profile {name!r}; use one of {', '.join(known_names())}")
        if custom:
            raise ProfileError(f"custom numbers are only read with profile 'custom', not {name!r}")
        return PROFILES[name]
    if not custom:
        raise ProfileError(f"profile 'custom' needs its numbers: {', '.join(_NUMBERS)}")
    low, high = custom.get("min_duration_s"), custom.get("max_duration_s")
    if low is not None and high is not None and low > high:
        raise ProfileError(f"custom profile: min_duration_s ({float(low)}) is above max_duration_s ({float(high)})")
    values: dict[str, float | int] = {}
    for key, value in custom.items():
        if key in _INTEGERS and isinstance(value, float) and value.is_integer():
            values[key] = int(value)
        else:
            values[key] = value
    try:
        return profile_of(msgspec.convert(values, CustomProfile))
    except msgspec.ValidationError as exc:
        raise ProfileError(f"custom profile: {exc}") from None


def char_budget(duration_s: float, profile: Profile) -> int:
    """Return how many characters a cue shown ``duration_s`` may hold under the profile."""
    return max(0, int(min(profile.max_cps * max(duration_s, 0.0), profile.max_chars_per_line * profile.max_lines)))


def min_gap_s(profile: Profile, fps: float) -> float:
    """Return the least time between two cues, in seconds, at ``fps`` frames a second."""
    return profile.min_gap_frames / fps if fps > 0 else 0.0
