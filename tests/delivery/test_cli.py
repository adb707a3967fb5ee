"""The ``taskgate`` CLI driven as a subprocess against a live gateway and worker."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.delivery.test_auth import ADMIN_KEY, USER_KEY, keyed_env
from tests.harness import ROOT, System, wait_until
from tests.media import make_video


@pytest.fixture
def cli_system(make_system: Callable[..., System]) -> System:
    system = make_system(keyed_env())
    system.start_worker(queues=["system", "ffmpeg"])
    system.start_gateway()
    return system


def taskgate(
    system: System | None,
    *args: str,
    key: str | None = ADMIN_KEY,
    cwd: Path = ROOT,
    url: str | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKGATE_")}
    env["TASKGATE_URL"] = url or (system.base_url if system else "http://127.0.0.1:9")
    if key:
        env["TASKGATE_API_KEY"] = key
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "taskgate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_submit_wait_shows_progress_and_outputs_and_exit_codes_follow_the_outcome(cli_system: System) -> None:
    make_video(cli_system.share_dir / "v.mp4", seconds=1.0)
    done = taskgate(
        cli_system,
        "submit",
        "ffmpeg.extract_audio",
        "video_path=v.mp4",
        "sample_rate=8000",
        "--task-id",
        "cli-1",
        "--wait",
    )
    assert done.returncode == 0, done.stderr
    assert "audio_path: workflows/cli-1/ffmpeg.extract_audio/audio.wav" in done.stdout
    assert "sample_rate: 8000" in done.stdout
    assert "100.0% SUCCESS" in done.stderr
    assert "[" in done.stderr

    (cli_system.share_dir / "notes.mp4").write_text("not a video")
    failed = taskgate(cli_system, "--json", "submit", "ffmpeg.probe", "media_path=notes.mp4", "--wait")
    assert failed.returncode == 1
    record = json.loads(failed.stdout)
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert failed.stderr == ""  # --json: no progress bar

    status = taskgate(cli_system, "--json", "status", "cli-1")
    assert status.returncode == 0
    assert json.loads(status.stdout)["task_id"] == "cli-1"
    listed = taskgate(cli_system, "--json", "tasks", "--status", "SUCCESS")
    assert [t["task_id"] for t in json.loads(listed.stdout)["tasks"]] == ["cli-1"]
    queued = taskgate(cli_system, "submit", "system.ping", "--task-id", "cli-2")
    assert queued.returncode == 0
    assert "submitted cli-2" in queued.stdout
    later = taskgate(cli_system, "submit", "system.ping", "--task-id", "cli-3", "--delay", "600")
    assert later.returncode == 0, later.stderr
    assert "submitted cli-3 (SCHEDULED" in later.stdout


def test_error_exit_codes(cli_system: System) -> None:
    assert taskgate(cli_system, "status", "no-such-task").returncode == 3
    assert taskgate(cli_system, "tasks", key=None).returncode == 4
    assert taskgate(cli_system, "tasks", key="wrong").returncode == 4
    assert taskgate(cli_system, "submit", "no.such_task").returncode == 2
    assert taskgate(cli_system, "submit", "system.ping", "not-a-pair").returncode == 2
    assert taskgate(cli_system, "frobnicate").returncode == 2
    unreachable = taskgate(None, "tasks")
    assert unreachable.returncode == 5
    assert "cannot reach" in unreachable.stderr
    assert taskgate(cli_system, "cancel", "no-such-task").returncode == 3


def test_upload_download_round_trip_and_no_silent_overwrite(cli_system: System, tmp_path: Path) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    up = taskgate(cli_system, "--json", "upload", str(source), "in/payload.bin", key=USER_KEY)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert taskgate(cli_system, "upload", str(source), "in/payload.bin", key=USER_KEY).returncode == 2
    assert taskgate(cli_system, "upload", str(source), "in/payload.bin", "--overwrite", key=USER_KEY).returncode == 0

    down = taskgate(cli_system, "download", "in/payload.bin", str(tmp_path / "back.bin"), key=USER_KEY)
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    (tmp_path / "dl").mkdir()
    default_name = taskgate(cli_system, "download", "in/payload.bin", key=USER_KEY, cwd=tmp_path / "dl")
    assert default_name.returncode == 0
    assert (tmp_path / "dl" / "payload.bin").exists()
    assert taskgate(cli_system, "download", "in/missing.bin", str(tmp_path / "x"), key=USER_KEY).returncode == 3
    assert not (tmp_path / "x").exists()


def test_hash_key_prints_an_entry_the_gateway_accepts() -> None:
    out = taskgate(None, "--json", "hash-key", "--name", "ci", "--scope", "admin")
    data = json.loads(out.stdout)
    assert data["api_key"]["key_sha256"] == hashlib.sha256(data["key"].encode()).hexdigest()
    assert data["api_key"]["scopes"] == ["admin"]
    assert data["api_key"]["name"] == "ci"


def test_hash_key_reads_a_given_key_from_stdin_never_from_arguments() -> None:
    key = "s3cret-key-from-a-vault"
    out = taskgate(None, "--json", "hash-key", "--stdin", "--name", "ci", stdin=key + "\n")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["key"] is None  # the given key is not echoed
    assert data["api_key"]["key_sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert taskgate(None, "hash-key", key).returncode == 2  # a key on the command line is a usage error
    assert taskgate(None, "hash-key", "--stdin", stdin="").returncode == 2


def test_locks_reads_the_monitor(cli_system: System) -> None:
    out = taskgate(cli_system, "--json", "locks")
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(out.stdout), dict)


def test_connection_options_work_before_or_after_the_command() -> None:
    from taskgate.cli import build_parser

    parser = build_parser()
    before = parser.parse_args(["--json", "--url", "http://gw:1", "status", "t1"])
    after = parser.parse_args(["status", "t1", "--json", "--url", "http://gw:1"])
    assert (before.json, before.url) == (after.json, after.url) == (True, "http://gw:1")
    assert parser.parse_args(["tasks"]).json is False


PIPELINE = """\
task_id: piped
stages:
  - task_name: ffmpeg.extract_audio
    input_data: {video_path: talk.mp4, sample_rate: 8000}
  - task_name: ffmpeg.probe
    input_data: {media_path: "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}
"""


def columns(line: str) -> list[int]:
    """Return where each column of a table line starts."""
    return [i for i, ch in enumerate(line) if ch != " " and (i == 0 or line[i - 2 : i] == "  ")]


def test_a_pipeline_file_runs_its_stages_under_one_id_and_status_shows_each_with_its_exit_code(
    cli_system: System, tmp_path: Path
) -> None:
    make_video(cli_system.share_dir / "talk.mp4", seconds=1.0)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    done = taskgate(cli_system, "submit", "--file", str(tmp_path / "pipeline.yaml"), "--wait")
    assert done.returncode == 0, done.stderr
    assert "duration_s:" in done.stdout  # the last stage's outputs

    status = taskgate(cli_system, "status", "piped")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "task piped: SUCCESS (latest stage ffmpeg.probe)"
    assert lines[1].split() == ["STAGE", "STATUS", "PROGRESS", "ATTEMPTS", "DURATION"]
    assert [line.split()[:2] for line in lines[2:4]] == [
        ["ffmpeg.extract_audio", "SUCCESS"],
        ["ffmpeg.probe", "SUCCESS"],
    ]
    assert "  audio_path: workflows/piped/ffmpeg.extract_audio/audio.wav" in lines

    (cli_system.share_dir / "notes.mp4").write_text("not a video")
    taskgate(cli_system, "submit", "ffmpeg.probe", "media_path=notes.mp4", "--task-id", "bad", "--wait")
    failed = taskgate(cli_system, "status", "bad")
    assert failed.returncode == 1
    assert "ffmpeg.probe: error: InputFileError: 'notes.mp4' is not a media file" in failed.stdout
    taskgate(cli_system, "submit", "system.sleep", "seconds=60", "--task-id", "stopped")
    taskgate(cli_system, "cancel", "stopped")
    wait_until(lambda: "CANCELLED" in taskgate(cli_system, "status", "stopped").stdout, 30, 0.2, "the cancel")
    assert taskgate(cli_system, "status", "stopped").returncode == 1

    no_file = taskgate(cli_system, "submit", "--file", str(tmp_path / "none.yaml"))
    assert no_file.returncode == 2
    both = taskgate(cli_system, "submit", "system.ping", "--file", str(tmp_path / "pipeline.yaml"))
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_tasks_and_locks_print_aligned_tables_with_a_header(cli_system: System) -> None:
    for i in range(2):
        assert taskgate(cli_system, "submit", "system.ping", "--task-id", f"table-task-{i}", "--wait").returncode == 0
    out = taskgate(cli_system, "tasks").stdout.splitlines()
    assert out[0].split() == ["TASK_ID", "STATUS", "TASK_NAME", "CREATED", "UPDATED"]
    assert {line.split()[0] for line in out[1:]} == {"table-task-0", "table-task-1"}
    assert len({tuple(columns(line)) for line in out}) == 1

    filtered = taskgate(cli_system, "tasks", "--task-name", "system.ping").stdout.splitlines()
    assert filtered[0].split()[-1] == "MATCHED_STAGE"
    assert filtered[1].split()[-2:] == ["system.ping", "SUCCESS"]

    locks = taskgate(cli_system, "locks")
    assert locks.returncode == 0, locks.stderr
    header, *rows = locks.stdout.splitlines()
    assert header.split() == ["GPU", "LEASES", "HOLDER", "WHERE", "AGE", "TTL_LEFT", "TOKEN", "WAITERS"]
    assert rows[0].split() == ["0", "0/1", "held", "0"]


def test_download_keeps_an_existing_file_without_force_and_upload_conflicts_name_the_flag(
    cli_system: System, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("first")
    assert taskgate(cli_system, "upload", str(tmp_path / "a.txt"), "in/a.txt", key=USER_KEY).returncode == 0
    again = taskgate(cli_system, "upload", str(tmp_path / "a.txt"), "in/a.txt", key=USER_KEY)
    assert again.returncode == 2
    assert "pass --overwrite to replace it" in again.stderr

    (tmp_path / "mine.txt").write_text("keep me")
    kept = taskgate(cli_system, "download", "in/a.txt", str(tmp_path / "mine.txt"), key=USER_KEY)
    assert kept.returncode == 2
    assert "pass --force to overwrite it" in kept.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    forced = taskgate(cli_system, "download", "in/a.txt", str(tmp_path / "mine.txt"), "--force", key=USER_KEY)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "mine.txt").read_text() == "first"


def test_search_and_bulk_actions_by_filter(cli_system: System) -> None:
    for i in range(2):
        done = taskgate(cli_system, "submit", "system.ping", "--task-id", f"lab-{i}", "--label", "batch:cli", "--wait")
        assert done.returncode == 0, done.stderr
    assert taskgate(cli_system, "submit", "system.ping", "--task-id", "other", "--wait").returncode == 0

    found = json.loads(taskgate(cli_system, "--json", "tasks", "--label", "batch:cli", "--limit", "1").stdout)
    assert [t["task_id"] for t in found["tasks"]] == ["lab-1"]
    rest = taskgate(cli_system, "--json", "tasks", "--label", "batch:cli", "--cursor", found["next_cursor"])
    assert [t["task_id"] for t in json.loads(rest.stdout)["tasks"]] == ["lab-0"]
    assert "next page: --cursor" in taskgate(cli_system, "tasks", "--by-key", "ops", "--limit", "1").stdout

    dry = taskgate(cli_system, "retry", "--label", "batch:cli", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("0 of 2 matching tasks would be retried")  # they succeeded: nothing to retry
    cancelled = json.loads(taskgate(cli_system, "--json", "cancel", "--label", "batch:cli").stdout)
    assert (cancelled["action"], cancelled["matched"], cancelled["count"]) == ("cancel", 2, 0)

    assert taskgate(cli_system, "retry").returncode == 2  # no filter: refused (422)
    both = taskgate(cli_system, "cancel", "lab-0", "--label", "batch:cli")
    assert both.returncode == 2
    assert "not both" in both.stderr
