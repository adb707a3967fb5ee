"""``audio.separate_vocals``: split a soundtrack into its voices and the rest (music and effects).

It runs on the ``audio`` queue. The accompaniment goes under the dub with
``ffmpeg.mux_audio`` ``mode: background``; the vocals give clean reference clips for voice cloning.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import structlog

from actors.audio.mdx import load_separator
from actors.errors import InputFileError
from actors.ffmpeg.media import av_reason, probe_audio
from actors.spec import task
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = structlog.get_logger(__name__)


class SeparateVocalsInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``audio.separate_vocals``: an audio file, or a video's first audio track."""

    audio_path: Annotated[str, StoragePath]


class SeparateVocalsOutput(msgspec.Struct, kw_only=True):
    """Output of ``audio.separate_vocals``: two stereo WAV files at the model's rate."""

    vocals_path: str
    accompaniment_path: str
    duration_s: float
    sample_rate: int


def decode_stereo(path: Path, shown_as: str, rate: int) -> npt.NDArray[np.float32]:
    """Return the first audio stream as (2, samples) float32 at ``rate`` (mono is duplicated).

    Raises:
        InputFileError: not media ffmpeg can read, or no audio stream.
    """
    import av  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    chunks: list[Any] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputFileError(f"{shown_as!r} has no audio stream")
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            for frame in container.decode(audio=0):
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    except av.error.FFmpegError as exc:
        raise InputFileError(f"{shown_as!r} is not a media file ffmpeg can read: {av_reason(exc)}") from None
    if not chunks:
        raise InputFileError(f"{shown_as!r} has no audio samples")
    return np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)


def write_stereo(path: Path, samples: npt.NDArray[np.float32], rate: int) -> None:
    """Write (2, samples) as 16-bit stereo WAV."""
    import numpy as np  # noqa: PLC0415

    pcm = (np.clip(samples.T, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


@task("audio.separate_vocals", queue="audio", input=SeparateVocalsInput, output=SeparateVocalsOutput)
def separate_vocals(run: TaskRun, params: SeparateVocalsInput) -> SeparateVocalsOutput:
    """Split a soundtrack into vocals and accompaniment with the MDX-Net model of ``audio.separation_model_path``."""
    settings = run.settings.audio
    separator = load_separator(settings)
    source = run.input_path(params.audio_path)
    probe_audio(source, params.audio_path)
    rate = settings.separation_sample_rate
    mix = decode_stereo(source, params.audio_path, rate)
    run.checkpoint()
    stem = separator.separate(mix)
    vocals, accompaniment = (stem, mix - stem) if settings.separation_stem == "vocals" else (mix - stem, stem)
    targets = {"vocals": run.output_dir / "vocals.wav", "accompaniment": run.output_dir / "accompaniment.wav"}
    partials = {name: path.with_name(f".{path.name}.partial") for name, path in targets.items()}
    try:
        write_stereo(partials["vocals"], vocals, rate)
        write_stereo(partials["accompaniment"], accompaniment, rate)
        for name, partial in partials.items():
            partial.replace(targets[name])
    finally:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
    duration_s = round(mix.shape[1] / rate, 3)
    log.info("vocals_separated", duration_s=duration_s, n_fft=separator.n_fft, dim_f=separator.dim_f)
    return SeparateVocalsOutput(
        vocals_path=run.rel(targets["vocals"]),
        accompaniment_path=run.rel(targets["accompaniment"]),
        duration_s=duration_s,
        sample_rate=rate,
    )
