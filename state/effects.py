"""Writes that commit together with a stage's compare-and-set, or not at all.

``Effects`` offers the pipeline methods the bookkeeping code uses (``hincrby``, ``hincrbyfloat``, ``hset``,
``hdel``, ``zadd``, ``zrem``, ``srem``, ``rpush``, ``lpush``, ``ltrim`` for a released scheduled stage's enqueue, plus
``zadd_after`` for deadlines on the server's clock and ``zrem_beaten`` for a heartbeat that may not exist), so
``queue_transition`` and ``queue_start`` fill it as they
would fill a pipeline; ``update_stage.lua`` applies the recorded commands only when the compare-and-set succeeds.
Task metrics and run tracking stay in step with the status, in one round trip. The commands travel as plain script
arguments (``count``, then per command ``name, key index, number of arguments, arguments...``): Lua reads them
without a JSON decode, which cost the script more than the commands themselves.
"""

from __future__ import annotations

from typing import Any


class Effects:
    """Commands recorded for the CAS script; keys are passed through KEYS, starting at ``first_key``."""

    def __init__(self, first_key: int) -> None:
        self.first_key = first_key
        self.keys: list[str] = []
        self.ops: list[list[Any]] = []
        self._indexes: dict[str, int] = {}

    def _index(self, key: str) -> int:
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = self.first_key + len(self.keys)
            self.keys.append(key)
        return index

    def hincrby(self, key: str, field: str, amount: int) -> None:
        """Record HINCRBY."""
        self.ops.append(["HINCRBY", self._index(key), field, amount])

    def hincrbyfloat(self, key: str, field: str, amount: float) -> None:
        """Record HINCRBYFLOAT."""
        self.ops.append(["HINCRBYFLOAT", self._index(key), field, repr(float(amount))])

    def hset(self, key: str, field: str, value: str | bytes | int) -> None:
        """Record HSET of one field."""
        self.ops.append(["HSET", self._index(key), field, value.decode() if isinstance(value, bytes) else value])

    def zadd(self, key: str, score: int, member: str) -> None:
        """Record ZADD of one member."""
        self.ops.append(["ZADD", self._index(key), score, member])

    def zadd_after(self, key: str, offset_ms: int, member: str) -> None:
        """Record ZADD with score = the server's now (ms) + ``offset_ms``."""
        self.ops.append(["ZADD_AFTER", self._index(key), offset_ms, member])

    def hdel(self, key: str, *fields: str) -> None:
        """Record HDEL."""
        self.ops.append(["HDEL", self._index(key), *fields])

    def zrem(self, key: str, *members: str) -> None:
        """Record ZREM."""
        self.ops.append(["ZREM", self._index(key), *members])

    def zrem_beaten(self, key: str, member: str) -> None:
        """Record ZREM of a run's heartbeat, applied only when the run beat (its stage's ``beat:`` flag is set)."""
        self.ops.append(["ZREM_BEATEN", self._index(key), member])

    def srem(self, key: str, *members: str) -> None:
        """Record SREM."""
        self.ops.append(["SREM", self._index(key), *members])

    def rpush(self, key: str, value: str) -> None:
        """Record RPUSH of one value."""
        self.ops.append(["RPUSH", self._index(key), value])

    def lpush(self, key: str, value: str | int) -> None:
        """Record LPUSH of one value."""
        self.ops.append(["LPUSH", self._index(key), value])

    def ltrim(self, key: str, start: int, stop: int) -> None:
        """Record LTRIM."""
        self.ops.append(["LTRIM", self._index(key), start, stop])

    def args(self) -> list[Any]:
        """Return the recorded commands as the script's trailing arguments (``[0]`` when none)."""
        flat: list[Any] = [len(self.ops)]
        for name, index, *rest in self.ops:
            flat += [name, index, len(rest), *rest]
        return flat
