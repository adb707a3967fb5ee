"""Redis I/O in one place: the lean channels (sync and async), Lua script calls, reply helpers."""

from redis_io.channel import AsyncChannel, Channel
from redis_io.replies import as_mapping, text, text_map
from redis_io.scripts import LuaScript

__all__ = ["AsyncChannel", "Channel", "LuaScript", "as_mapping", "text", "text_map"]
