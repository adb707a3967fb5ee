"""Decode any audio (or a video's audio track) to mono float32 samples in memory, with PyAV."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.errors import InputFileError
from actors.ffmpeg.media import av_reason

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SAMPLE_RATE = 16000


def decode_mono(path: Path, shown_as: str, sample_rate: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """Return the first audio stream of ``path`` as mono float32 samples at ``sample_rate``.

    Raises:
        InputFileError: the file is not media that ffmpeg can read, or it has no audio stream.
    """
    import av  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputFileError(f"{shown_as!r} has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks: list[npt.NDArray[Any]] = []
            for frame in container.decode(audio=0):
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    except av.error.FFmpegError as exc:
        raise InputFileError(f"{shown_as!r} is not a media file ffmpeg can read: {av_reason(exc)}") from None
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks, axis=1)[0], dtype=np.float32)
