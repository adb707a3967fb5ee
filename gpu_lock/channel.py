"""The lock's own path to Redis: commands sent on connections it keeps from its client's pool.

Every GPU task takes the lock twice (acquire, release), and a hand-over is on the critical path of the
next task, so the lock skips what redis-py wraps around each command: checking a connection out of the
pool and back in (with its metrics), event dispatch, and the retry policy. A retried acquire or release
script is not safe anyway: Redis may have run the first one before the connection dropped.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from redis import Redis
from redis.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError


class Channel:
    """Send commands on connections taken from ``client``'s pool once and kept for this lock.

    Thread-safe: each call takes an idle connection (or a new one from the pool) for itself. An idle
    connection the server has closed (a restart, a ``CLIENT KILL``) is reconnected before use, as the
    pool does; one that failed mid-command is disconnected and handed back to the pool, never reused.
    After a fork the child starts with no connections of its own.
    """

    def __init__(self, client: Redis) -> None:
        self._pool = client.connection_pool
        self._idle: list[Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def execute(self, *args: Any) -> Any:
        """Send one command and return its raw reply (error replies raise ``ResponseError``)."""
        conn = self._take()
        try:
            conn.send_command(*args)  # type: ignore[no-untyped-call]
            reply = conn.read_response()
        except ResponseError:
            self._idle.append(conn)  # the error reply was read whole: the connection is clean
            raise
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]
            self._pool.release(conn)
            raise
        self._idle.append(conn)
        return reply

    def close(self) -> None:
        """Give every idle connection back to the pool."""
        with self._lock:
            idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for conn in idle:
                self._pool.release(conn)

    def _take(self) -> Connection:
        if self._pid != os.getpid():
            with self._lock:  # forked: the parent's sockets are not ours to use
                if self._pid != os.getpid():
                    self._idle, self._pid = [], os.getpid()
        try:
            conn = self._idle.pop()  # list.pop and append are atomic: no lock on the hot path
        except IndexError:
            return self._pool.get_connection()
        try:
            stale = conn.can_read()  # an idle connection with bytes or EOF waiting: the server closed it
        except (OSError, RedisConnectionError):
            stale = True
        if stale:
            conn.disconnect()  # type: ignore[no-untyped-call]  # send_command connects it again
        return conn
