"""A lean path to Redis for the hot paths: commands sent on connections kept from a client's pool.

The GPU lock (twice per GPU task, and on the critical path of every hand-over), the worker's stage reads
and transitions, Dramatiq's dispatch script and the gateway's submit (``AsyncChannel``) skip what
redis-py wraps around each command: checking a connection out of the pool and back in (with its
metrics), event dispatch, and the retry policy. Only a kept connection that the server closed (or that
answers READONLY: a demoted primary) is retried, once: a blind retry could run a script twice. Measured on
a 2-core machine: about 30 us of client CPU per HGETALL here, 75 us through ``Redis.hgetall``, 300 us
through ``redis.asyncio`` from a worker thread (``run_coroutine`` on Dramatiq's event loop).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError

try:
    import hiredis
except ImportError:  # pragma: no cover  (an optional speed-up of redis-py)
    hiredis = None  # type: ignore[assignment]

# A kept connection failing with these is dropped and its command sent once more on a new connection: the
# server closed it, or it still points at a primary that a failover demoted to a replica (READONLY; a
# Sentinel-managed pool turns that reply into a ConnectionError itself and asks for the new primary).
_STALE = (RedisConnectionError, OSError, ReadOnlyError)


class Channel:
    """Send commands on connections taken from ``client``'s pool once and kept for this channel.

    Thread-safe: each call takes an idle connection (or a new one from the pool) for itself. One that
    failed mid-command is disconnected and handed back to the pool, never reused.
    After a fork the child starts with no connections of its own. ``close`` (or garbage collection of
    the channel) gives the kept connections back to the pool.
    """

    def __init__(self, client: Redis) -> None:
        self._pool = client.connection_pool
        self._idle: list[Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _give_back, self._pool, self._idle, self._pid)

    def execute(self, *args: Any) -> Any:
        """Send one command and return its raw reply (error replies raise ``ResponseError``).

        A kept connection the server has closed meanwhile (a restart, a timeout, ``CLIENT KILL``) fails
        on first use; the command is sent once more on a new connection, as redis-py's default retry
        would. Checking each kept connection before use instead would cost a poll per command.
        """
        conn, kept = self._take()
        try:
            return self._send(conn, args)
        except _STALE:
            if not kept:
                raise
        return self._send(self._pool.get_connection(), args)

    def execute_many(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send several commands in one write and return their raw replies in order (a pipeline, no MULTI).

        An error reply is returned in its place as a ``ResponseError`` instance, not raised.
        """
        conn, kept = self._take()
        try:
            return self._send_many(conn, commands)
        except _STALE:
            if not kept:
                raise
        return self._send_many(self._pool.get_connection(), commands)

    def _send_many(self, conn: Connection, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        replies: list[Any] = []
        try:
            packed = [_sync_pack(conn, args) for args in commands]
            conn.send_packed_command([b"".join(packed)], check_health=False)  # type: ignore[no-untyped-call]
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            _raise_read_only(replies)
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]
            self._pool.release(conn)
            raise
        self._idle.append(conn)
        return replies

    def _send(self, conn: Connection, args: tuple[Any, ...]) -> Any:
        try:
            conn.send_packed_command([_sync_pack(conn, args)])  # type: ignore[no-untyped-call]
            reply = conn.read_response()
        except ReadOnlyError:
            conn.disconnect()  # type: ignore[no-untyped-call]
            self._pool.release(conn)
            raise
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
        """Give every idle connection back to the pool (the channel stays usable: it takes new ones)."""
        _give_back(self._pool, self._idle, self._pid)

    def _take(self) -> tuple[Connection, bool]:
        """Return a connection and whether it was kept from an earlier call."""
        if self._pid != os.getpid():
            with self._lock:  # forked: the parent's sockets are not ours to use
                if self._pid != os.getpid():
                    self._finalizer.detach()
                    self._idle, self._pid = [], os.getpid()
                    self._finalizer = weakref.finalize(self, _give_back, self._pool, self._idle, self._pid)
        try:
            return self._idle.pop(), True  # list.pop and append are atomic: no lock on the hot path
        except IndexError:
            return self._pool.get_connection(), False


def _give_back(pool: ConnectionPool, idle: list[Connection], owner_pid: int) -> None:
    """Release kept connections to their pool (in the process that took them; a fork's child has none)."""
    if owner_pid != os.getpid():
        return
    while True:
        try:
            conn = idle.pop()  # atomic: a call running on another thread never gets a released connection
        except IndexError:
            return
        pool.release(conn)


# Idle connections an asyncio pool's channels keep between calls, together: the sequential hot path skips
# the pool, while a burst's extra connections go back to the pool as each call ends. Shared per pool, so a
# channel made per call (or dropped without ``close``) keeps nothing lent: keeping them per channel let one
# burst hold every connection of the pool and wedge every other caller with "Too many connections".
KEEP_IDLE = 4
_idle_by_pool: weakref.WeakKeyDictionary[Any, list[AsyncConnection]] = weakref.WeakKeyDictionary()


class AsyncChannel:
    """``Channel`` for asyncio code: connections from an asyncio client's pool, on one event loop.

    The gateway submits every task with one script call; through ``redis.asyncio``'s command path that
    call cost over a third of the gateway's CPU per submit. A call cancelled mid-reply (or failing)
    disconnects its connection and hands it back to the pool, so a stale reply never reaches another caller.
    At most ``KEEP_IDLE`` connections per pool stay kept between calls; every other one goes back to the
    pool when its call ends, so a burst waits on the pool's bound and leaves nothing lent behind it.
    """

    def __init__(self, client: AsyncRedis) -> None:
        self._pool = client.connection_pool
        try:
            self._idle = _idle_by_pool[self._pool]
        except KeyError:
            self._idle = _idle_by_pool.setdefault(self._pool, [])

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its raw reply; see ``Channel.execute``."""
        try:
            conn = self._idle.pop()
        except IndexError:
            return await self._send(await self._fresh(), args)
        try:
            return await self._send(conn, args)
        except _STALE:
            return await self._send(await self._fresh(), args)  # the server closed it while it was kept

    async def execute_many(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send several commands in one write; see ``Channel.execute_many`` (error replies stay in place)."""
        try:
            conn = self._idle.pop()
        except IndexError:
            return await self._send_many(await self._fresh(), commands)
        try:
            return await self._send_many(conn, commands)
        except _STALE:
            return await self._send_many(await self._fresh(), commands)

    async def _send_many(self, conn: AsyncConnection, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        replies: list[Any] = []
        try:
            await conn.send_packed_command(b"".join(_packed(conn, args) for args in commands), check_health=False)
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            _raise_read_only(replies)
        except BaseException:
            await self._drop(conn)
            raise
        await self._keep(conn)
        return replies

    async def _fresh(self) -> AsyncConnection:
        conn: AsyncConnection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        return conn

    async def _send(self, conn: AsyncConnection, args: tuple[Any, ...]) -> Any:
        try:
            await conn.send_packed_command(_pack(conn, args), check_health=False)
            reply = await conn.read_response()
        except ReadOnlyError:
            await self._drop(conn)
            raise
        except ResponseError:
            await self._keep(conn)  # the error reply was read whole: the connection is clean
            raise
        except BaseException:
            await self._drop(conn)
            raise
        await self._keep(conn)
        return reply

    async def _keep(self, conn: AsyncConnection) -> None:
        """Keep a clean connection for the next call, or give it back when enough are kept already."""
        if len(self._idle) < KEEP_IDLE:
            self._idle.append(conn)
        else:
            await self._pool.release(conn)

    async def _drop(self, conn: AsyncConnection) -> None:
        """Close a connection that failed or was cancelled mid-command and give it back to the pool."""
        await conn.disconnect(nowait=True)
        await self._pool.release(conn)

    async def close(self) -> None:
        """Give every kept connection of this pool back to it (the channel stays usable)."""
        while self._idle:
            await self._pool.release(self._idle.pop())


def _raise_read_only(replies: list[Any]) -> None:
    """Raise the first READONLY reply of a batch: the connection is on a replica and must be dropped."""
    for reply in replies:
        if isinstance(reply, ReadOnlyError):
            raise reply


def _packed(conn: AsyncConnection, args: tuple[Any, ...]) -> bytes:
    """Return one command packed as bytes (for a batch in one write)."""
    packed = _pack(conn, args)
    return packed if isinstance(packed, bytes) else b"".join(packed)


def _sync_pack(conn: Connection, args: tuple[Any, ...]) -> bytes:
    """Pack one command with hiredis straight from its arguments.

    redis-py encodes each argument in Python first: a script call's 20-30 keys and arguments then cost more
    client time than the rest of its round trip.
    """
    if hiredis is not None and not (isinstance(args[0], str) and " " in args[0]):
        try:
            return bytes(hiredis.pack_command(args))
        except TypeError:
            pass  # an argument type hiredis does not take (bool): redis-py encodes it, or refuses it as before
    return b"".join(conn.pack_command(*args))  # type: ignore[no-untyped-call]


def _pack(conn: AsyncConnection, args: tuple[Any, ...]) -> bytes | list[bytes]:
    """Pack a command with hiredis when it is installed (redis.asyncio packs in Python)."""
    if hiredis is not None:
        try:
            return bytes(hiredis.pack_command(args))
        except TypeError:
            pass  # an argument type hiredis does not take: let redis-py encode it
    packed: list[bytes] = conn.pack_command(*args)
    return packed
