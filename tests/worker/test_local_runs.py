"""A worker process's local notes of its runs, which its host's sidecar heartbeats (``actors.worker.local_runs``)."""

import subprocess
import sys
from pathlib import Path

from actors.worker.local_runs import LocalRuns


def test_runs_are_noted_listed_by_id_and_pid_and_removed(tmp_path: Path) -> None:
    runs = LocalRuns(tmp_path)
    long_id = "w" * 250 + "|system.ping"  # too long for a file name: its note holds it
    names = [runs.add("w1|system.ping", 11), runs.add(long_id, 12), runs.add("a/b|system.ping", 11)]
    assert None not in names
    listed = runs.listed()
    assert {rid: [pid for _, pid in notes] for rid, notes in listed.items()} == {
        "w1|system.ping": [11],
        long_id: [12],
        "a/b|system.ping": [11],
    }
    for name in names:
        runs.remove(name)
    runs.remove(names[0])  # gone already: fine
    assert runs.listed() == {}
    assert LocalRuns(None).add("w1|system.ping", 11) is None  # not supervised: nothing noted


def test_a_folder_left_by_a_dead_supervisor_is_swept_when_the_next_one_makes_its_own() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    first = LocalRuns.make()
    assert first.folder is not None
    stale = Path(first.folder).parent / f"taskgate-runs-{int(gone.stdout)}-left"
    stale.mkdir()
    (stale / "1:w|system.ping").touch()
    second = LocalRuns.make()
    try:
        assert not stale.exists()
        assert Path(first.folder).is_dir()  # this process lives: its folder stays
    finally:
        for made in (first, second):
            assert made.folder is not None
            for note in Path(made.folder).iterdir():
                note.unlink()
            Path(made.folder).rmdir()
