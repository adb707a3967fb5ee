"""The GPT-SoVITS engine against a server speaking its api_v2 HTTP API (real audio, made by Piper)."""

from __future__ import annotations

import json
import shutil
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media_tasks.shared_system import shared_system
from tests.speech.audio import MEETING, long_speech
from tests.voice.fake_sovits import FakeSovits

SPEAK = "tts.synthesize"
DUB = "tts.synthesize_subtitles"
MOUNT = "/mnt/share"  # where the storage root appears on the "GPU host"
PROMPT = "Good morning everyone. The budget meeting is moved to Friday afternoon."


@pytest.fixture(scope="module")
def sovits() -> Iterator[FakeSovits]:
    server = FakeSovits()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sovits_system(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory, sovits: FakeSovits
) -> Iterator[System]:
    root = tmp_path_factory.mktemp("sovits")
    env = {
        "TASKGATE_TTS__GPT_SOVITS__URL": sovits.url,
        "TASKGATE_TTS__GPT_SOVITS__SHARE_DIR": str(root / "share"),
        "TASKGATE_TTS__GPT_SOVITS__VOICES": json.dumps(
            {"narrator": {"reference_audio": "refs/meeting.ogg", "prompt_text": PROMPT}}
        ),
        "TASKGATE_RETRY_MIN_BACKOFF_S": "0.05",
    }
    with shared_system(redis_server.url, root, ["tts"], env) as system:
        (system.share_dir / "refs").mkdir()
        shutil.copy(MEETING, system.share_dir / "refs" / "meeting.ogg")
        yield system


@pytest.fixture
async def client(sovits_system: System, sovits: FakeSovits) -> AsyncIterator[Client]:
    sovits.seen.clear()
    sovits.script = None
    async with aiohttp.ClientSession() as session:
        yield Client(session, sovits_system.base_url)


async def test_a_reference_clip_and_its_words_go_to_the_server_and_its_audio_comes_back(
    sovits_system: System, sovits: FakeSovits, client: Client
) -> None:
    data = {
        "text": "Cloned voices speak. In two sentences.",
        "reference_audio": "refs/meeting.ogg",
        "prompt_text": PROMPT,
        "prompt_language": "en",
        "language": "en",
        "speed": 1.25,
    }
    await client.submit(SPEAK, data, task_id="clone")
    record = await client.wait("clone", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][SPEAK]["output"]
    assert (out["engine"], out["voice"], out["sample_rate"]) == ("gpt_sovits", "reference", 22050)
    assert out["duration_s"] > 1.0
    assert [s["text"] for s in sovits.seen] == ["Cloned voices speak.", "In two sentences."]
    first = sovits.seen[0]
    assert first["ref_audio_path"] == str(Path(sovits_system.share_dir) / "refs" / "meeting.ogg")
    assert (first["prompt_text"], first["prompt_lang"], first["text_lang"]) == (PROMPT, "en", "en")
    assert (first["media_type"], first["speed_factor"], first["streaming_mode"]) == ("wav", 1.25, False)


async def test_speakers_map_to_named_references_from_the_settings(
    sovits_system: System, sovits: FakeSovits, client: Client
) -> None:
    subs = sovits_system.share_dir / "subs" / "two.json"
    subs.parent.mkdir(exist_ok=True)
    cues = [
        {"start": 0.5, "end": 2.5, "text": "I am the narrator.", "speaker": "SPEAKER_00"},
        {"start": 3.0, "end": 5.0, "text": "And I am cloned too.", "speaker": "SPEAKER_01"},
    ]
    subs.write_text(json.dumps({"segments": cues}))
    data = {
        "subtitle_path": "subs/two.json",
        "engine": "gpt_sovits",
        "voices": {"SPEAKER_00": "narrator"},
        "reference_audio": "refs/meeting.ogg",
        "prompt_text": "Another prompt.",
    }
    await client.submit(DUB, data, task_id="cast")
    record = await client.wait("cast", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    manifest = json.loads((sovits_system.share_dir / record["stages"][DUB]["output"]["manifest_path"]).read_text())
    assert [c["voice"] for c in manifest["cues"]] == ["narrator", "reference"]
    assert [s["prompt_text"] for s in sovits.seen] == [PROMPT, "Another prompt."]


async def test_server_refusals_fail_the_stage_with_its_message_and_5xx_is_retried(
    sovits: FakeSovits, client: Client
) -> None:
    await client.submit(
        SPEAK,
        {"text": "Hi.", "engine": "gpt_sovits", "voice": "narrator", "language": "xx"},
        task_id="refused",
    )
    record = await client.wait("refused", timeout_s=60)
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "EngineFailed"
    assert "text_lang: xx is not supported" in record["error"]["message"]

    first_call = len(sovits.seen) + 1
    sovits.script = lambda _body, n: (503, {"message": "busy"}) if n == first_call else None
    await client.submit(SPEAK, {"text": "Hi.", "engine": "gpt_sovits"}, task_id="busy")
    record = await client.wait("busy", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    assert record["stages"][SPEAK]["attempts"] == 2
    assert record["stages"][SPEAK]["output"]["voice"] == "narrator"


async def test_each_speaker_is_cloned_from_up_to_15_s_of_their_own_clean_lines_with_their_words(
    sovits_system: System, sovits: FakeSovits, client: Client
) -> None:
    share = sovits_system.share_dir
    long_speech(share / "film" / "original.wav", 20.0)
    source = [  # the source-language lines, with who says them: 10 s each, and one line spoken over
        {"start": 2.5 * i, "end": 2.5 * (i + 1), "text": f"Source line {i}.", "speaker": f"SPEAKER_0{i % 2}"}
        for i in range(8)
    ]
    source.append({"start": 19.0, "end": 19.8, "text": "Overlapping.", "speaker": "SPEAKER_00"})
    (share / "film" / "source.json").write_text(json.dumps({"segments": source}))
    dubbed = [
        {"start": 0.5, "end": 2.5, "text": "First speaker speaks.", "speaker": "SPEAKER_00"},
        {"start": 3.0, "end": 5.0, "text": "Second speaker answers.", "speaker": "SPEAKER_01"},
    ]
    (share / "film" / "dub.json").write_text(json.dumps({"segments": dubbed}))
    data = {
        "subtitle_path": "film/dub.json",
        "engine": "gpt_sovits",
        "speaker_audio_path": "film/original.wav",
        "speaker_subtitle_path": "film/source.json",
        "prompt_language": "en",
    }
    await client.submit(DUB, data, task_id="clones")
    record = await client.wait("clones", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    assert out["voices"] == {"SPEAKER_00": "clone:SPEAKER_00", "SPEAKER_01": "clone:SPEAKER_01"}
    first, second = sovits.seen
    assert first["ref_audio_path"] != second["ref_audio_path"]
    # SPEAKER_00: four clean lines (10 s); SPEAKER_01's last line is spoken over, so it has 7.5 s: what there is
    expected = {"SPEAKER_00": ([0, 2, 4, 6], 10.6), "SPEAKER_01": ([1, 3, 5], 7.9)}
    for request, speaker in ((first, "SPEAKER_00"), (second, "SPEAKER_01")):
        clip = Path(request["ref_audio_path"])
        assert clip.name == f"{speaker}.wav"
        lines, seconds = expected[speaker]
        with wave.open(str(clip)) as reader:
            assert abs(reader.getnframes() / reader.getframerate() - seconds) < 0.01
        assert request["prompt_text"] == " ".join(f"Source line {i}." for i in lines)  # their words, in time order
