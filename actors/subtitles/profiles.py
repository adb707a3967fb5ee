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
    msgspec.Meta(pattern=r"^(netflix|bbc|children|custom)\Z", description="netflix, bbc, children or custom"),
]


class CustomProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The numbers of a ``custom`` profile, checked one by one (contradictions are checked together)."""

    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)]
    max_lines: Annotated[int, msgspec.Meta(ge=1, le=4)]
    min_duration_s: Annotated[float, msgspec.Meta(ge=0.1, le=60)]
    max_duration_s: Annotated[float, msgspec.Meta(ge=0.5, le=60)]
    max_cps: Annotated[float, msgspec.Meta(ge=5, le=100)]
    min_gap_frames: Annotated[int, msgspec.Meta(ge=0, le=25)] = 2


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
    values: dict[str, float | int] = {}
    for key, value in custom.items():
        if key in _INTEGERS and isinstance(value, float) and value.is_integer():
            values[key] = int(value)
        else:
            values[key] = value
    try:
        numbers = msgspec.convert(values, CustomProfile)
    except msgspec.ValidationError as exc:
        raise ProfileError(f"custom profile: {exc}") from None
    if numbers.min_duration_s > numbers.max_duration_s:
        raise ProfileError(
            f"custom profile: min_duration_s ({numbers.min_duration_s}) is above max_duration_s "
            f"({numbers.max_duration_s})"
        )
    return Profile(name=CUSTOM, **msgspec.structs.asdict(numbers))


def char_budget(duration_s: float, profile: Profile) -> int:
    """Return how many characters a cue shown ``duration_s`` may hold under the profile."""
    return max(0, int(min(profile.max_cps * max(duration_s, 0.0), profile.max_chars_per_line * profile.max_lines)))


def min_gap_s(profile: Profile, fps: float) -> float:
    """Return the least time between two cues, in seconds, at ``fps`` frames a second."""
    return profile.min_gap_frames / fps if fps > 0 else 0.0
