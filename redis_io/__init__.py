"""Redis I/O in one place: the lean channels (sync and async), Lua script calls, reply helpers."""

from redis_io.channel import AsyncChannel, AsyncChannelScript, Channel, ChannelScript

__all__ = ["AsyncChannel", "AsyncChannelScript", "Channel", "ChannelScript"]
