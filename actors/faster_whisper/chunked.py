"""Long media in bounded memory: decoded and transcribed in chunks cut at silences.

Decode in a stream, cut it into chunks at silences, transcribe chunk by chunk, and keep each finished chunk's
segments on disk so that a killed worker resumes after the last finished one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from actors.errors import InputFileError
from actors.faster_whisper.engine import Options, Segment, Transcript, Word, transcribe
from actors.ffmpeg.media import av_reason
from actors.ffmpeg.pcm import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = structlog.get_logger(__name__)

_CUT_SEARCH_S = 30.0  # a chunk ends at the quietest point of its last this many seconds
_QUIET_FRAME = 1600  # 100 ms: the unit of the quietness search


class Chunk(msgspec.Struct, kw_only=True):
    """One finished chunk: where it sits in the audio (samples) and its segments (times in the whole audio)."""

    index: int
    start_sample: int
    end_sample: int
    language: str
    language_probability: float
    segments: list[Segment]


class Plan(msgspec.Struct, kw_only=True):
    """What the chunks were made from: a new input or new options start the chunks afresh."""

    key: str


def stream_samples(path: Path, shown_as: str, block_s: float = 10.0) -> Iterator[npt.NDArray[np.float32]]:
    """Yield the first audio stream of ``path`` as mono 16 kHz float32 blocks of about ``block_s`` seconds.

    Raises:
        InputFileError: the file is not media that ffmpeg can read, or it has no audio stream.
    """
    import av  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    block = round(block_s * SAMPLE_RATE)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputFileError(f"{shown_as!r} has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            pending: list[npt.NDArray[np.float32]] = []
            size = 0
            frames: Iterator[Any] = container.decode(audio=0)
            for frame in frames_then_flush(frames):
                for out in resampler.resample(frame):
                    data = np.ascontiguousarray(out.to_ndarray()[0], dtype=np.float32)
                    pending.append(data)
                    size += len(data)
                if size >= block:
                    yield np.concatenate(pending)
                    pending, size = [], 0
            if pending:
                yield np.concatenate(pending)
    except av.error.FFmpegError as exc:
        raise InputFileError(f"{shown_as!r} is not a media file ffmpeg can read: {av_reason(exc)}") from None


def frames_then_flush(frames: Iterator[Any]) -> Iterator[Any]:
    """Yield the decoded frames, then None (the resampler's flush)."""
    yield from frames
    yield None


def _quietest(audio: npt.NDArray[np.float32], lo: int, hi: int) -> int:
    """Return the sample in ``audio[lo:hi]`` at the middle of its quietest 100 ms frame."""
    import numpy as np  # noqa: PLC0415

    span = audio[lo:hi]
    n = len(span) // _QUIET_FRAME
    if n == 0:
        return hi
    energy = np.mean(span[: n * _QUIET_FRAME].reshape(n, _QUIET_FRAME) ** 2, axis=1)
    # the latest of the quietest frames (within 1 dB), so that chunks stay close to their target length
    quiet = np.flatnonzero(energy <= energy.min() * 1.26 + 1e-12)
    return lo + int(quiet[-1]) * _QUIET_FRAME + _QUIET_FRAME // 2


def cut_chunks(
    blocks: Iterator[npt.NDArray[np.float32]], chunk_s: float, skip_samples: int = 0
) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """Yield (first sample, samples) of chunks of about ``chunk_s`` seconds, each cut at a silence.

    The first ``skip_samples`` are decoded and dropped (a resumed run starts after its finished chunks); the cuts
    depend only on the samples from there on, so a resumed run cuts where the first run did.
    """
    import numpy as np  # noqa: PLC0415

    target = round(chunk_s * SAMPLE_RATE)
    search = min(round(_CUT_SEARCH_S * SAMPLE_RATE), target // 2)
    at = 0  # the first sample of the pending blocks in the whole audio
    pending: list[npt.NDArray[np.float32]] = []
    size = 0
    for block in blocks:
        if at + len(block) <= skip_samples:
            at += len(block)
            continue
        if at < skip_samples:
            block = block[skip_samples - at :]  # noqa: PLW2901
            at = skip_samples
        pending.append(block)
        size += len(block)
        while size >= target:  # joined once per chunk, not once per block
            buffer = np.concatenate(pending)
            cut = _quietest(buffer, target - search, target)
            yield at, buffer[:cut]
            at += cut
            pending, size = [buffer[cut:].copy()], len(buffer) - cut
    if size:
        yield at, np.concatenate(pending)


def plan_key(source: Path, model: str, options: Options, chunk_s: float) -> str:
    """Return what identifies a run's chunks: the input file (size and time), the model and every option."""
    stat = source.stat()
    raw = msgspec.json.encode([str(source), stat.st_size, stat.st_mtime_ns, model, options, chunk_s])
    return hashlib.sha256(raw).hexdigest()[:24]


class ChunkStore:
    """The finished chunks of one stage, in ``<stage folder>/chunks``."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        plan = folder / "plan.json"
        known = msgspec.json.decode(plan.read_bytes(), type=Plan).key if plan.is_file() else None
        if known != key:  # another input or other options: nothing here can be reused
            for old in folder.glob("*.json"):
                old.unlink()
            self._write(plan, msgspec.json.encode(Plan(key=key)))

    def _write(self, path: Path, data: bytes) -> None:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)

    def finished(self) -> list[Chunk]:
        """Return the finished chunks in order, up to the first one missing or unreadable."""
        chunks: list[Chunk] = []
        while (path := self.folder / f"{len(chunks):05d}.json").is_file():
            try:
                chunks.append(msgspec.json.decode(path.read_bytes(), type=Chunk))
            except (msgspec.DecodeError, msgspec.ValidationError):
                break
        return chunks

    def save(self, chunk: Chunk) -> None:
        """Keep a finished chunk (written whole or not at all)."""
        self._write(self.folder / f"{chunk.index:05d}.json", msgspec.json.encode(chunk))


def _shifted(segments: list[Segment], offset_s: float, first_id: int) -> list[Segment]:
    return [
        Segment(
            id=first_id + i,
            start=round(s.start + offset_s, 3),
            end=round(s.end + offset_s, 3),
            text=s.text,
            words=[
                Word(
                    word=w.word,
                    start=round(w.start + offset_s, 3),
                    end=round(w.end + offset_s, 3),
                    probability=w.probability,
                )
                for w in s.words
            ],
            avg_logprob=s.avg_logprob,
            no_speech_prob=s.no_speech_prob,
        )
        for i, s in enumerate(segments)
    ]


def _shifted_progress(on_progress: Callable[[float], None], offset_s: float) -> Callable[[float], None]:
    def report(end_s: float) -> None:
        on_progress(offset_s + end_s)

    return report


def transcribe_chunked(  # noqa: PLR0917  (one call site, the task)
    model: Any,
    source: Path,
    shown_as: str,
    model_name: str,
    options: Options,
    store: ChunkStore,
    chunk_s: float,
    on_progress: Callable[[float], None],
) -> tuple[Transcript, int]:
    """Transcribe ``source`` chunk by chunk; return the transcript and how many chunks were reused.

    ``on_progress`` gets the seconds of audio done so far, after each segment (it may raise to stop).
    """
    done = store.finished()
    resumed = len(done)
    skip = done[-1].end_sample if done else 0
    if resumed:
        log.info("transcription_resumed", chunks=resumed, from_s=round(skip / SAMPLE_RATE, 3))
        on_progress(skip / SAMPLE_RATE)
    language = options.language or next((c.language for c in done if c.segments), None)
    for first, samples in cut_chunks(stream_samples(source, shown_as), chunk_s, skip):
        offset_s = first / SAMPLE_RATE
        chunk_options = msgspec.structs.replace(options, language=language)
        part = transcribe(model, samples, chunk_options, shown_as, _shifted_progress(on_progress, offset_s))
        if language is None and part.segments:
            language = part.language  # the first chunk with speech sets the language of the rest
        next_id = sum(len(c.segments) for c in done)
        chunk = Chunk(
            index=len(done),
            start_sample=first,
            end_sample=first + len(samples),
            language=part.language,
            language_probability=part.language_probability,
            segments=_shifted(part.segments, offset_s, next_id),
        )
        store.save(chunk)
        done.append(chunk)
        on_progress(chunk.end_sample / SAMPLE_RATE)
        log.info("chunk_transcribed", index=chunk.index, start_s=round(offset_s, 3), segments=len(chunk.segments))
    spoken = next((c for c in done if c.segments), done[0] if done else None)
    transcript = Transcript(
        language=spoken.language if spoken else (options.language or "en"),
        language_probability=spoken.language_probability if spoken else 0.0,
        duration_s=round((done[-1].end_sample if done else 0) / SAMPLE_RATE, 3),
        task=options.task,
        model=model_name,
        segments=[s for c in done for s in c.segments],
    )
    return transcript, resumed
