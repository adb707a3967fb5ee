from pathlib import Path

import pytest

from state import PathOutsideRoot
from state.storage import relative_to_root, resolve_in_root


def test_relative_path_resolves_inside_root(tmp_path: Path) -> None:
    assert resolve_in_root(tmp_path, "videos/in.mp4") == tmp_path.resolve() / "videos" / "in.mp4"


def test_absolute_path_inside_root_is_accepted(tmp_path: Path) -> None:
    inside = tmp_path / "a.wav"
    assert resolve_in_root(tmp_path, str(inside)) == inside.resolve()


@pytest.mark.parametrize("value", ["../etc/passwd", "videos/../../x", "/etc/passwd", "", "a\x00b"])
def test_paths_leaving_the_root_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(PathOutsideRoot):
        resolve_in_root(tmp_path, value)


def test_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(PathOutsideRoot, match="symlink"):
        resolve_in_root(root, "escape/secret.txt")


def test_symlink_staying_inside_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_in_root(tmp_path, "link/x") == (tmp_path / "real" / "x").resolve()


def test_relative_to_root(tmp_path: Path) -> None:
    assert relative_to_root(tmp_path, tmp_path / "w" / "f.wav") == "w/f.wav"
