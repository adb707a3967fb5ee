"""Archive extraction refuses every entry that would leave the target folder."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from actors.errors import InputFileError
from actors.worker.archives import safe_extract


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w") as tf:
        for info in members:
            tf.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_good_archives_extract(tmp_path: Path) -> None:
    out = safe_extract(_zip(tmp_path / "a.zip", {"d/one.txt": b"1", "two.txt": b"2"}), tmp_path / "z")
    assert sorted(p.name for p in out) == ["one.txt", "two.txt"]
    assert (tmp_path / "z" / "d" / "one.txt").read_bytes() == b"1"
    out = safe_extract(_tar(tmp_path / "a.tar", [_file("x/y.txt")]), tmp_path / "t")
    assert out == [(tmp_path / "t" / "x" / "y.txt").resolve()]


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt"])
def test_zip_entries_leaving_the_folder_are_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"evil"})
    with pytest.raises(InputFileError, match="leave the target folder"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    "member",
    [
        _file("../evil.txt"),
        _file("/abs/evil.txt"),
        _link("ln", "/etc/passwd"),
        _link("ln", "../../x"),
        _link("hard", "/etc/passwd", tarfile.LNKTYPE),
    ],
)
def test_tar_traversal_and_links_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    with pytest.raises(InputFileError):
        safe_extract(_tar(tmp_path / "bad.tar", [_file("fine.txt"), member]), tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()


def test_not_an_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"hello")
    with pytest.raises(InputFileError, match="neither"):
        safe_extract(tmp_path / "x.bin", tmp_path / "out")
