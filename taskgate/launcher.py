"""Start Redis (embedded when none is configured), Dramatiq workers and the gateway; stop them cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import structlog

from actors.registry import QUEUES
from actors.webhooks.outbox import WEBHOOK_QUEUE
from actors.worker.app import check_task_names
from config import ConfigError, Settings, configure_logging, load_settings
from taskgate.embedded_redis import EmbeddedRedis
from taskgate.worker import STOP_SIGNALS

log = structlog.get_logger(__name__)

_EMBEDDED_REDIS_PORT = 6389
_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0)


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
        """Start a child under ``name``."""
        self.children[name] = (args, subprocess.Popen(args, env=self.env))
        log.info("process_started", process=name, pid=self.children[name][1].pid)

    def watch(self) -> None:
        """Restart children that exit, until ``stop``."""
        while not self.stopping:
            for name, (args, proc) in list(self.children.items()):
                if proc.poll() is not None and not self.stopping:
                    count = self.restarts.get(name, 0)
                    delay = _RESTART_BACKOFF_S[min(count, len(_RESTART_BACKOFF_S) - 1)]
                    log.warning("process_exited", process=name, code=proc.returncode, restart_in_s=delay)
                    time.sleep(delay)
                    if self.stopping:  # a stop signal came during the back-off: start nothing new
                        break
                    self.restarts[name] = count + 1
                    self.start(name, args)
            time.sleep(0.2)

    def stop(self) -> None:
        """Ask every child to stop (SIGTERM), then kill those that do not within 15 s."""
        self.stopping = True
        for _, proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run() -> int:
    """Run the whole system in the foreground until Ctrl-C; return the exit code."""
    try:
        settings = load_settings()
        check_task_names(settings)
    except ConfigError as exc:
        print(f"taskgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    env = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(Path(settings.data_dir) / "redis", port=_EMBEDDED_REDIS_PORT)
        embedded.start()
        env["TASKGATE_REDIS_URL"] = embedded.url
        log.info("embedded_redis_started", url=embedded.url, data_dir=str(embedded.data_dir))
    settings.share_root.mkdir(parents=True, exist_ok=True)
    env.setdefault("TASKGATE_SHARE_DIR", str(settings.share_root))
    supervisor = Supervisor(env)

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.stopping = True

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    # Webhooks get their own pool so a slow receiver never holds an engine worker's thread.
    engine_queues = [q for q in QUEUES if q != WEBHOOK_QUEUE]
    supervisor.start("workers", worker_command(settings, engine_queues))
    supervisor.start("webhooks", worker_command(settings, [WEBHOOK_QUEUE]))
    supervisor.start("gateway", [sys.executable, "-m", "gateway"])
    log.info("taskgate_running", url=f"http://{settings.host}:{settings.port}", share_dir=str(settings.share_root))
    try:
        supervisor.watch()
    finally:
        supervisor.stop()
        if embedded:
            embedded.stop()
        log.info("taskgate_stopped")
    return 0
