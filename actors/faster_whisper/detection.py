"""Language detection restricted to the languages a request (or the deployment) expects.

Whisper's detection scores all of its languages on the sound of the first 30 s of speech. A short clip can
sound like another language than it is: a French prompt that spells out "M I S D N" is heard as English at
0.34. When the request lists the languages it may be in (``languages: ["fr", "en"]``, or the operator's
``faster_whisper.languages`` for a deployment), the language is the likeliest of those by the same audio
scores, over the speech only (the VAD runs first, as in the decoding), and the clip is then decoded in it.
The probability reported is the audio's own figure for that language, so a weak choice stays flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from actors.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = structlog.get_logger(__name__)


class Detected(msgspec.Struct, frozen=True, kw_only=True):
    """The language chosen among the allowed ones, its audio probability, and every language's probability."""

    language: str
    probability: float
    all_probabilities: dict[str, float]


def detect_among(
    model: Any, audio: npt.NDArray[np.float32], allowed: Sequence[str], vad_filter: bool, segments: int = 1
) -> Detected:
    """Return the likeliest of ``allowed`` by Whisper's audio detection (over the speech when ``vad_filter``).

    The probabilities are averaged over the first ``segments`` 30 s windows of speech.

    Raises:
        InputError: a listed language is not one the model can transcribe.
    """
    unknown = [code for code in allowed if code not in model.supported_languages]
    if unknown:
        raise InputError(f"languages {unknown} are not languages this model can transcribe")
    if len(allowed) == 1:
        return Detected(language=allowed[0], probability=1.0, all_probabilities={allowed[0]: 1.0})
    probabilities = audio_language_probabilities(model, audio, vad_filter, segments)
    language = max(allowed, key=lambda code: probabilities.get(code, 0.0))
    log.info(
        "language_detected_among",
        allowed=list(allowed),
        language=language,
        probability=round(probabilities.get(language, 0.0), 4),
        unrestricted=max(probabilities, key=probabilities.__getitem__) if probabilities else None,
    )
    return Detected(language=language, probability=probabilities.get(language, 0.0), all_probabilities=probabilities)


def audio_language_probabilities(
    model: Any, audio: npt.NDArray[np.float32], vad_filter: bool, segments: int
) -> dict[str, float]:
    """Return ``{language: probability}`` averaged over the first ``segments`` 30 s windows (of speech)."""
    import numpy as np  # noqa: PLC0415
    from faster_whisper.audio import pad_or_trim  # noqa: PLC0415
    from faster_whisper.vad import collect_chunks, get_speech_timestamps  # noqa: PLC0415

    if vad_filter:
        chunks, _ = collect_chunks(audio, get_speech_timestamps(audio, None))
        speech = np.concatenate(chunks, axis=0) if chunks else audio[:0]
        audio = speech if len(speech) else audio  # no speech found: judge the whole sound
    window = model.feature_extractor.n_samples
    totals: dict[str, float] = {}
    count = 0
    for first in range(0, max(1, min(len(audio), segments * window)), window):
        features = model.feature_extractor(audio[first : first + window])
        encoded = model.encode(pad_or_trim(features[..., : model.feature_extractor.nb_max_frames]))
        for token, probability in model.model.detect_language(encoded)[0]:
            code = token[2:-2]  # "<|fr|>"
            totals[code] = totals.get(code, 0.0) + float(probability)
        count += 1
    return {code: total / count for code, total in totals.items()}
