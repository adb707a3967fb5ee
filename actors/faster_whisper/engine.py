"""faster-whisper: transcribe mono 16 kHz samples with a cached model, segment by segment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import structlog

from actors.errors import InputError
from actors.faster_whisper.alignment import Region, refine_times, speech_regions
from actors.faster_whisper.detection import find_speech, heard_probabilities
from actors.faster_whisper.language_choice import Chosen, choose
from actors.ffmpeg.pcm import SAMPLE_RATE

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


_SENTENCE_ENDS = (".", "?", "!", "。", "？", "！")
_SEGMENT_PAUSE_S = 0.5  # a window's words part into segments at a pause this long


class Word(msgspec.Struct, kw_only=True):
    """One recognised word and its times in seconds."""

    word: str
    start: float
    end: float
    probability: float


class Segment(msgspec.Struct, kw_only=True):
    """One transcribed segment; ``words`` is empty without word timestamps."""

    id: int
    start: float
    end: float
    text: str
    words: list[Word]
    avg_logprob: float
    no_speech_prob: float


class Transcript(msgspec.Struct, kw_only=True):
    """The segments file: what was said, when, in which language."""

    language: str
    language_probability: float
    duration_s: float
    task: str
    model: str
    segments: list[Segment]


class Options(msgspec.Struct, kw_only=True):
    """Per-request decoding options (the task input's, minus paths and model)."""

    language: str | None = None
    # without ``language``: the languages the audio may be in; detection picks the likeliest of them
    # (actors.faster_whisper.detection); empty: any language the model knows
    languages: tuple[str, ...] = ()
    # how many 30 s windows of speech the restricted detection averages
    detection_segments: int = 1
    task: Literal["transcribe", "translate"] = "transcribe"
    word_timestamps: bool = True
    vad_filter: bool = True
    beam_size: int = 5
    initial_prompt: str | None = None
    # 0: whisper's own loop, 30 s windows one after another, each seeking where the last one stopped;
    # > 0: faster-whisper's BatchedInferencePipeline, each VAD window (<= 30 s of speech) decoded on its own,
    # this many at once (1: window by window, the CPU default; segments arrive after each window)
    batch_size: int = 0
    # move word times onto the speech found in the audio (actors.faster_whisper.alignment)
    refine_timestamps: bool = True


def check_options(model: Any, options: Options, shown_as: str) -> None:
    """Refuse options the model cannot honour.

    Raises:
        InputError: the language is unknown to the model, or an English-only model was asked to translate.
    """
    multilingual = bool(model.model.is_multilingual)
    if options.language is not None and options.language not in model.supported_languages:
        if multilingual:
            raise InputError(f"language {options.language!r} is not a Whisper language code (e.g. 'en', 'fr', 'de')")
        raise InputError(
            f"model {shown_as!r} is English-only: language must be 'en' or omitted, not {options.language!r}; "
            "use a multilingual model (e.g. 'small') for other languages"
        )
    unknown = [code for code in options.languages if code not in model.supported_languages]
    if unknown:
        raise InputError(f"languages {unknown} are not languages this model can transcribe")
    if options.task == "translate" and not multilingual:
        raise InputError(
            f"model {shown_as!r} is English-only and cannot translate; use a multilingual model (e.g. 'small')"
        )


def _word(w: Any) -> Word:
    return Word(
        word=w.word,
        start=round(float(w.start), 3),
        end=round(float(w.end), 3),
        probability=round(float(w.probability), 4),
    )


def _segments_of(piece: Any, first_id: int, window: bool) -> list[Segment]:
    """Return faster-whisper's segment as ours; a whole VAD window's is cut into sentences and pauses."""
    words = [_word(w) for w in piece.words or ()]
    parts = split_at_sentences(words) if window and words else [words]
    return [
        Segment(
            id=first_id + i,
            start=part[0].start if window and part else round(float(piece.start), 3),
            end=part[-1].end if window and part else round(float(piece.end), 3),
            text="".join(w.word for w in part).strip() if window and part else piece.text.strip(),
            words=part,
            avg_logprob=round(float(piece.avg_logprob), 4),
            no_speech_prob=round(float(piece.no_speech_prob), 4),
        )
        for i, part in enumerate(parts)
    ]


def transcribe(
    model: Any,
    audio: npt.NDArray[np.float32],
    options: Options,
    shown_as: str,
    on_segment: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe ``audio`` (mono, 16 kHz); ``on_segment`` gets each segment's end time in seconds.

    Raises:
        InputError: the options cannot be honoured by this model.
        TaskCancelled: raised by ``on_segment`` to stop early.
    """
    check_options(model, options, shown_as)
    decoding: dict[str, Any] = {
        "language": options.language,
        "task": options.task,
        "beam_size": options.beam_size,
        "word_timestamps": options.word_timestamps,
        "initial_prompt": options.initial_prompt,
    }
    chosen: Chosen | None = None
    decoded: dict[str, tuple[list[Segment], Any, float]] = {}
    if options.language is None and model.model.is_multilingual:
        chosen, decoded = _choose_language(model, audio, options, decoding)
        decoding["language"] = chosen.language
    if chosen is not None and chosen.language in decoded:
        segments, info, _ = decoded[chosen.language]  # the clip was all sample: its decoding is the transcript
        if on_segment is not None:
            for segment in segments:
                on_segment(segment.end)
    else:
        segments, info, _ = _decode(model, audio, options, decoding, on_segment)
    language, probability = info.language, float(info.language_probability)
    if chosen is not None:
        language, probability = chosen.language, chosen.probability
    if options.refine_timestamps and any(s.words for s in segments):
        refine_segments(segments, speech_regions(audio))
    if not options.word_timestamps:
        for segment in segments:
            segment.words = []
    return Transcript(
        language=language,
        language_probability=round(probability, 4),
        duration_s=round(audio.shape[0] / SAMPLE_RATE, 3),
        task=options.task,
        model=shown_as,
        segments=segments,
    )


def _choose_language(
    model: Any, audio: npt.NDArray[np.float32], options: Options, decoding: dict[str, Any]
) -> tuple[Chosen, dict[str, tuple[list[Segment], Any, float]]]:
    """Choose the language of ``audio`` by its sound, then (unsure) by decodings of its first speech.

    The choice is among ``options.languages`` (empty: the model's languages; see ``language_choice``). Returns
    the choice and the sample's decodings by language when the sample is the whole clip (else none).
    """
    speech = find_speech(audio, options.vad_filter)
    allowed = options.languages or tuple(model.supported_languages)
    probabilities = heard_probabilities(model, speech.samples, options.detection_segments)
    sample = audio if speech.whole else audio[: speech.sample_end]
    decoded: dict[str, tuple[list[Segment], Any, float]] = {}

    def decode(language: str) -> float:
        decoded[language] = _decode(model, sample, options, {**decoding, "language": language}, None)
        return decoded[language][2]

    unsure_is_decoded = options.task == "transcribe"  # a translation's decodings are all English: not comparable
    chosen = choose(probabilities, allowed, decode if unsure_is_decoded else None)
    return chosen, decoded if speech.whole else {}


def _decode(
    model: Any,
    audio: npt.NDArray[np.float32],
    options: Options,
    decoding: dict[str, Any],
    on_segment: Callable[[float], None] | None,
) -> tuple[list[Segment], Any, float]:
    """Decode once; return the segments, faster-whisper's info and the decoding's log-probability (its tokens')."""
    windows = options.batch_size > 0
    if windows:
        from faster_whisper import BatchedInferencePipeline  # noqa: PLC0415

        # each VAD window (<= 30 s of speech) is decoded on its own, as text only (timestamp tokens cost words
        # and timing on real speech: see bench_subtitles); a window comes back as one segment, cut here into
        # sentences and pauses by its word times, so the words are always timed
        pieces, info = BatchedInferencePipeline(model).transcribe(
            audio, vad_filter=True, batch_size=options.batch_size, **{**decoding, "word_timestamps": True}
        )
    else:
        pieces, info = model.transcribe(audio, vad_filter=options.vad_filter, **decoding)
    segments: list[Segment] = []
    total, tokens = 0.0, 0
    for piece in pieces:
        segments.extend(_segments_of(piece, len(segments), windows))
        said = len(piece.tokens or ())
        total, tokens = total + float(piece.avg_logprob) * (said + 1), tokens + said  # the mean counts the end too
        if on_segment is not None:
            on_segment(float(piece.end))
    return segments, info, total if tokens else float("-inf")


def split_at_sentences(words: list[Word]) -> list[list[Word]]:
    """Cut a window's words into segments after each sentence end and at each pause of ``_SEGMENT_PAUSE_S`` or more."""
    parts: list[list[Word]] = []
    for word in words:
        previous = parts[-1][-1] if parts else None
        if (
            previous is None
            or previous.word.rstrip().endswith(_SENTENCE_ENDS)
            or (word.start - previous.end >= _SEGMENT_PAUSE_S)
        ):
            parts.append([word])
        else:
            parts[-1].append(word)
    return parts


def refine_segments(segments: list[Segment], regions: list[Region]) -> None:
    """Move the segments' word times onto the speech regions (in place); segments span their words."""
    words = [w for s in segments for w in s.words]
    for word, (start, end) in zip(words, refine_times([(w.start, w.end) for w in words], regions), strict=True):
        word.start, word.end = start, end
    for segment in segments:
        if segment.words:
            segment.start, segment.end = segment.words[0].start, segment.words[-1].end
