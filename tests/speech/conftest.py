"""Speech fixtures: the tiny diarization pipeline (built once per session) and the clips in a storage root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.speech.audio import MEETING, TWO_VOICES
from tests.speech.tiny_pipeline import build_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight pyannote pipeline folder that loads through ``Pipeline.from_pretrained``."""
    return build_tiny_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture
def speech_share(share_dir: Path) -> Path:
    """The storage root with ``audio/meeting.ogg`` and ``audio/two_voices.ogg``."""
    (share_dir / "audio").mkdir()
    for clip in (MEETING, TWO_VOICES):
        shutil.copy(clip, share_dir / "audio" / clip.name)
    return share_dir
