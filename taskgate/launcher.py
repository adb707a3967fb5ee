"""Start Redis (embedded when none is configured), Dramatiq workers and the gateway; stop them in order.

Every child runs in its own process group, so a Ctrl-C in the terminal (or a SIGTERM to the group)
reaches only this process, which stops the gateway first, then the workers (they drain or requeue
their messages), then Redis. Every child also dies with this process whatever kills it
(``taskgate.lifetime``), so a SIGKILL leaves nothing running; Redis's keeper
(``taskgate.redis_keeper``) then still stops it after the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import structlog

from actors.registry import QUEUES, check_task_names
from actors.webhooks.outbox import WEBHOOK_QUEUE
from config import ConfigError, Settings, configure_logging, load_settings
from config.webhook_secret import secret_path, webhook_secret
from taskgate.embedded_redis import EmbeddedRedis
from taskgate.instance import InstanceLock, check_port_free
from taskgate.lifetime import STOP_SIGNALS, guarded
from taskgate.redis_keeper import keeper_command

log = structlog.get_logger(__name__)

_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0)
# How long each child may take to stop after SIGTERM; a worker supervisor gives its pools 30 s.
_STOP_WAIT_S = {"gateway": 15.0, "webhooks": 40.0, "workers": 40.0}
# Stop order, one step at a time (the children of one step together): nothing submits once the gateway is
# gone, and the workers still reach Redis while they drain; Redis stops last, in ``run``.
STOP_ORDER = (("gateway",), ("webhooks", "workers"))


def worker_command(settings: Settings, queues: list[str] | None = None) -> list[str]:
    """Return the command that runs the supervised worker pools for ``queues`` (all when None).

    ``taskgate worker`` restarts a pool whose process the monitor killed and runs the host's sidecar.
    """
    args = [
        sys.executable,
        "-m",
        "taskgate",
        "worker",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
    ]
    if queues:
        args += ["--queues", *queues]
    return args


class Supervisor:
    """Keep child processes running; restart one that dies (a worker pool killed by the monitor)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = {}
        self.restarts: dict[str, int] = {}
        self.stopping = False

    def start(self, name: str, args: list[str]) -> None:
        """Start a child under ``name``, in its own process group, dying with this process."""
        proc = subprocess.Popen(guarded(args), env=self.env, process_group=0)
        self.children[name] = (args, proc)
        log.info("process_started", process=name, pid=proc.pid)

    def watch(self) -> None:
        """Restart children that exit, until ``stop``."""
        while not self.stopping:
            for name, (args, proc) in list(self.children.items()):
                if proc.poll() is not None and not self.stopping:
                    count = self.restarts.get(name, 0)
                    delay = _RESTART_BACKOFF_S[min(count, len(_RESTART_BACKOFF_S) - 1)]
                    log.warning("process_exited", process=name, code=proc.returncode, restart_in_s=delay)
                    time.sleep(delay)
                    if self.stopping:
                        return
                    self.restarts[name] = count + 1
                    self.start(name, args)
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the children step by step, in ``STOP_ORDER`` (SIGTERM, then SIGKILL past their wait)."""
        self.stopping = True
        for step in STOP_ORDER:
            names = [name for name in step if name in self.children]
            for name in names:
                if self.children[name][1].poll() is None:
                    self.children[name][1].send_signal(signal.SIGTERM)
            deadline = time.monotonic() + max((_STOP_WAIT_S[name] for name in names), default=0.0)
            for name in names:
                proc = self.children[name][1]
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("process_killed", process=name)
                    proc.kill()
                    proc.wait()
                log.info("process_stopped", process=name, code=proc.returncode)


def _prepare(settings: Settings) -> InstanceLock:
    """Check, before anything starts, that no other run uses this data directory or these ports.

    Raises:
        ConfigError: the data directory is locked, a port is in use, or the webhook secret is unreadable.
    """
    lock = InstanceLock(settings.data_root)
    lock.acquire()
    try:
        check_port_free(settings.host, settings.port, "the gateway", "TASKGATE_PORT")
        if not settings.redis_configured:
            check_port_free(
                "127.0.0.1", settings.embedded_redis_port, "the embedded Redis", "TASKGATE_EMBEDDED_REDIS_PORT"
            )
        if webhook_secret(settings, create=True) is not None:
            log.info("webhook_secret_ready", file=str(secret_path(settings)), explicit=bool(settings.webhooks.secret))
    except ConfigError:
        lock.release()
        raise
    return lock


def run() -> int:
    """Run the whole system in the foreground until SIGINT, SIGTERM or SIGHUP; return the exit code."""
    try:
        settings = load_settings()
        check_task_names(settings)
        configure_logging(settings.log_format, settings.log_level)
        lock = _prepare(settings)
    except ConfigError as exc:
        print(f"taskgate: {exc}", file=sys.stderr)
        return 2
    env = {**os.environ, "TASKGATE_DATA_DIR": str(settings.data_root)}
    embedded: EmbeddedRedis | None = None
    supervisor = Supervisor(env)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("taskgate_stopping", signal=signal.Signals(signum).name)
        supervisor.stopping = True

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        if not settings.redis_configured:  # neither a URL nor sentinels: run our own
            embedded = EmbeddedRedis(settings.data_root / "redis", port=settings.embedded_redis_port)
            _start_redis(embedded)
            env["TASKGATE_REDIS_URL"] = embedded.url
        settings.share_root.mkdir(parents=True, exist_ok=True)
        env.setdefault("TASKGATE_SHARE_DIR", str(settings.share_root))
        if not supervisor.stopping:  # a signal during Redis's start stops before any child starts
            _start_children(supervisor, settings)
        supervisor.watch()
    except ConfigError as exc:
        print(f"taskgate: {exc}", file=sys.stderr)
        return 2
    finally:
        supervisor.stop()
        if embedded:
            embedded.stop()
            log.info("process_stopped", process="redis")
        lock.release()
        log.info("taskgate_stopped")
    return 0


def _start_redis(embedded: EmbeddedRedis) -> None:
    """Start the embedded Redis under its keeper (it stops last) and log how long loading its data took."""
    started = time.monotonic()
    embedded.start(wrap=keeper_command(os.getpid()))
    log.info(
        "embedded_redis_started",
        url=embedded.url,
        data_dir=str(embedded.data_dir),
        load_s=round(time.monotonic() - started, 3),
    )


def _start_children(supervisor: Supervisor, settings: Settings) -> None:
    # Webhooks get their own pool so a slow receiver never holds an engine worker's thread.
    engine_queues = [q for q in QUEUES if q != WEBHOOK_QUEUE]
    supervisor.start("workers", worker_command(settings, engine_queues))
    supervisor.start("webhooks", worker_command(settings, [WEBHOOK_QUEUE]))
    supervisor.start("gateway", [sys.executable, "-m", "gateway"])
    log.info("taskgate_running", url=f"http://{settings.host}:{settings.port}", share_dir=str(settings.share_root))
