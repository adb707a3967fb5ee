"""What the sound says about the language: Whisper's detection over the speech, heard twice when it is short.

Whisper's detection scores all of its languages on one 30 s window. The speech is found first (the VAD, as in
the decoding) and the first ``segments`` windows of it are scored and averaged. Speech shorter than
``SHORT_SPEECH_S`` is also scored repeated to fill the window (with a short pause between repeats), and the two
hearings are averaged: a 3 s clip alone is 27 s of padding, a setting Whisper was seldom trained on, and the two
disagree exactly where the sound alone is unreliable (``actors.faster_whisper.language_choice``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actors.ffmpeg.pcm import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# speech shorter than this is heard a second time, repeated to fill the 30 s window
SHORT_SPEECH_S = 15.0
_REPEAT_PAUSE_S = 0.3
# the decodings that settle an unsure language read at most this much speech
SAMPLE_SPEECH_S = 30.0


class Speech(msgspec.Struct, frozen=True):
    """The speech of a clip (VAD regions joined) and where in the clip its first ``SAMPLE_SPEECH_S`` end."""

    samples: npt.NDArray[np.float32]
    sample_end: int  # an index into the clip's own samples
    whole: bool  # the sample is the whole clip


def find_speech(audio: npt.NDArray[np.float32], vad_filter: bool) -> Speech:
    """Return the speech of ``audio`` (all of it without ``vad_filter``, or when the VAD finds none)."""
    if not vad_filter:
        return _all_of(audio)
    import numpy as np  # noqa: PLC0415
    from faster_whisper.vad import get_speech_timestamps  # noqa: PLC0415

    regions = get_speech_timestamps(audio, None)
    if not regions:
        return _all_of(audio)  # no speech found: judge the whole sound
    budget, end = int(SAMPLE_SPEECH_S * SAMPLE_RATE), len(audio)
    for region in regions:
        budget -= region["end"] - region["start"]
        if budget <= 0:
            end = region["end"]
            break
    samples = np.concatenate([audio[region["start"] : region["end"]] for region in regions])
    return Speech(samples, sample_end=end, whole=end >= len(audio))


def _all_of(audio: npt.NDArray[np.float32]) -> Speech:
    end = min(len(audio), int(SAMPLE_SPEECH_S * SAMPLE_RATE))
    return Speech(audio, sample_end=end, whole=end >= len(audio))


def heard_probabilities(model: Any, speech: npt.NDArray[np.float32], segments: int = 1) -> dict[str, float]:
    """Return ``{language: probability}`` for ``speech``: its first ``segments`` windows, and repeated when short."""
    probabilities = window_probabilities(model, speech, segments)
    if 0 < len(speech) < SHORT_SPEECH_S * SAMPLE_RATE:
        repeated = window_probabilities(model, _repeated(speech), 1)
        probabilities = {
            code: (probabilities.get(code, 0.0) + repeated.get(code, 0.0)) / 2 for code in probabilities | repeated
        }
    return probabilities


def _repeated(speech: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np  # noqa: PLC0415

    unit = np.concatenate([speech, np.zeros(int(_REPEAT_PAUSE_S * SAMPLE_RATE), dtype=speech.dtype)])
    times = max(1, int((SAMPLE_SPEECH_S - 1) * SAMPLE_RATE) // len(unit))
    return np.tile(unit, times)


def window_probabilities(model: Any, audio: npt.NDArray[np.float32], segments: int) -> dict[str, float]:
    """Return Whisper's ``{language: probability}`` averaged over the first ``segments`` 30 s windows of ``audio``."""
    from faster_whisper.audio import pad_or_trim  # noqa: PLC0415

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
