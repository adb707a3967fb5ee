"""Reply helpers: the same result whether a client decodes responses or not, RESP2 or RESP3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text(value: Any) -> str:
    """Return a reply value as ``str`` (bytes are decoded as UTF-8)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_mapping(reply: Any) -> dict[Any, Any]:
    """Return a raw HGETALL reply as a dict (RESP2 sends a flat list, RESP3 a map)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def text_map(raw: Mapping[Any, Any]) -> dict[str, str]:
    """Return a hash reply with keys and values as ``str``."""
    return {text(k): text(v) for k, v in raw.items()}
