"""Samples in and out of files, silence trimming, and pitch-preserving tempo changes with ffmpeg.

Tempo changes use ``actors.ffmpeg.tempo``: the ``rubberband`` filter, else ``atempo``.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

from actors.errors import EngineFailed
from actors.ffmpeg.media import ffmpeg_binary
from actors.ffmpeg.tempo import tempo_filter
from actors.tts.engine import Speech
from actors.worker.runtime import TaskRun

_SILENT = 0.01  # below this amplitude a sample counts as silence (Piper normalises speech to peak 1.0)
_KEEP_S = 0.03  # silence kept around trimmed speech, so that consonants are not clipped
_CODECS = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-q:a", "2"]}


def decode_wav(data: bytes, what: str) -> Speech:
    """Decode 16-bit PCM WAV bytes (mono, or the first channel) to float32 samples.

    Raises:
        EngineFailed: the bytes are not 16-bit PCM WAV.
    """
    import numpy as np  # noqa: PLC0415

    try:
        with wave.open(io.BytesIO(data)) as reader:
            width, channels, rate = reader.getsampwidth(), reader.getnchannels(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise EngineFailed(f"{what} is not WAV audio: {exc}") from None
    if width != 2:
        raise EngineFailed(f"{what} is {8 * width}-bit WAV; expected 16-bit PCM")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)[:, 0]
    return Speech(samples=(pcm / 32768.0).astype(np.float32), sample_rate=rate)


def write_wav(path: Path, speech: Speech) -> None:
    """Write mono 16-bit PCM WAV."""
    import numpy as np  # noqa: PLC0415

    pcm = (np.clip(speech.samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(speech.sample_rate)
        out.writeframes(pcm.tobytes())


def trim_silence(speech: Speech) -> Speech:
    """Drop leading and trailing silence, keeping a few milliseconds around the speech."""
    import numpy as np  # noqa: PLC0415

    loud = np.flatnonzero(np.abs(speech.samples) > _SILENT)
    if loud.size == 0:
        return Speech(samples=speech.samples[:0], sample_rate=speech.sample_rate)
    keep = round(_KEEP_S * speech.sample_rate)
    start, end = max(0, int(loud[0]) - keep), min(speech.samples.shape[0], int(loud[-1]) + 1 + keep)
    return Speech(samples=speech.samples[start:end], sample_rate=speech.sample_rate)


def retime(run: TaskRun, speech: Speech, tempo: float, rate: int, workdir: Path) -> Speech:
    """Return ``speech`` ``tempo`` times faster (pitch kept) at sample ``rate``, through ffmpeg.

    Raises:
        EngineFailed: ffmpeg failed.
        TaskCancelled: the stage was cancelled while ffmpeg ran.
    """
    if abs(tempo - 1.0) < 1e-4 and rate == speech.sample_rate:
        return speech
    source, target = workdir / "line.wav", workdir / "line.out.wav"
    write_wav(source, speech)
    filters = [tempo_filter(ffmpeg_binary(run.settings.ffmpeg), tempo)] if abs(tempo - 1.0) >= 1e-4 else []
    run.run_subprocess(
        [
            *_ffmpeg(run),
            "-i",
            str(source),
            *(["-filter:a", ",".join(filters)] if filters else []),
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-c:a",
            "pcm_s16le",
            str(target),
        ],
        what="ffmpeg time stretch",
    )
    return decode_wav(target.read_bytes(), "ffmpeg's time-stretched output")


def save(run: TaskRun, speech: Speech, target: Path, fmt: str) -> None:
    """Write ``speech`` to ``target`` as wav, flac or mp3; a failed write leaves no file behind.

    Raises:
        EngineFailed: ffmpeg failed to encode.
    """
    partial = target.with_name(f".{target.name}.partial.wav")
    try:
        write_wav(partial, speech)
        if fmt == "wav":
            partial.replace(target)
            return
        encoded = target.with_name(f".{target.name}.partial.{fmt}")
        try:
            run.run_subprocess([*_ffmpeg(run), "-i", str(partial), *_CODECS[fmt], str(encoded)], what="ffmpeg encoding")
            encoded.replace(target)
        finally:
            encoded.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)


def _ffmpeg(run: TaskRun) -> list[str]:
    return [ffmpeg_binary(run.settings.ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
