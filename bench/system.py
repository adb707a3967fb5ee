"""One real system for a benchmark: its own Redis, storage root and logs, a worker and a gateway."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import System


@contextlib.contextmanager
def running_system(
    queues: list[str],
    prepare: Callable[[Path], None] | None = None,
    *,
    threads: int = 1,
    env: dict[str, str] | None = None,
    with_worker: bool = True,
) -> Iterator[System]:
    """Yield a system serving ``queues`` on a Redis of its own, its storage root ``prepare``d first.

    ``with_worker=False``: the gateway alone (its monitor included), for benchmarks of the gateway itself.

    The processes' logs are printed when the benchmark fails with an exception; everything stops on the way out.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        redis_server.start()
        (root / "share").mkdir()
        (root / "logs").mkdir()
        if prepare is not None:
            prepare(root / "share")
        system = System(redis_server.url, root / "share", root / "logs", env)
        try:
            if with_worker:
                system.start_worker(queues=queues, processes=1, threads=threads)
            system.start_gateway()
            yield system
        except BaseException:
            for name in ("gateway", "worker"):
                print(f"--- {name} log (tail) ---\n{system.logs(name)[-3000:]}", file=sys.stderr)
            raise
        finally:
            system.stop()
            redis_server.stop()


def run_on_system(
    queues: list[str],
    prepare: Callable[[Path], None],
    measure: Callable[[System], bool],
    *,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> int:
    """Start a system serving ``queues``, ``prepare`` its storage root, ``measure``; return 0 if it passed."""
    with running_system(queues, prepare, threads=threads, env=env) as system:
        return 0 if measure(system) else 1
