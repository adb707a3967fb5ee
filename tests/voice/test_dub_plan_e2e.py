"""A planned dub that keeps the film's sound: ducking, windows, voices per speaker, LLM shortening, separation.

The module runs its own gateway and worker: a second Piper voice in ``tts.voices_dir`` (Joe's model with a
slower ``length_scale``), the scripted shortening LLM as the default endpoint, and a separation model path
the tests fill with tiny MDX-Net-shaped ONNX models.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from actors.ffmpeg.pcm import decode_mono
from actors.tts.voices import packaged_voices
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media import make_video, run_ffmpeg
from tests.media_tasks.shared_system import shared_system
from tests.speech.audio import MEETING, write_wav
from tests.voice.conftest import VOICE_QUEUES
from tests.voice.shortening_llm import ShorteningLlm
from tests.voice.test_dub_e2e import streams

DUB, MUX = "tts.synthesize_subtitles", "ffmpeg.mux_audio"
RATE = 16000
SLOW_VOICE = "en_US-slowjoe-medium"


@pytest.fixture(scope="module")
def llm() -> Iterator[ShorteningLlm]:
    server = ShorteningLlm()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plan_system(
    redis_server: EmbeddedRedis, llm: ShorteningLlm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    root = tmp_path_factory.mktemp("dubplan")
    voices = root / "voices"
    voices.mkdir()
    joe = next(v for v in packaged_voices() if v.name == "en_US-joe-medium")
    assert joe.model_path is not None
    (voices / f"{SLOW_VOICE}.onnx").symlink_to(joe.model_path)
    config = json.loads(Path(f"{joe.model_path}.json").read_text())
    config["inference"]["length_scale"] = 1.35  # a second voice that speaks measurably slower
    (voices / f"{SLOW_VOICE}.onnx.json").write_text(json.dumps(config))
    env = {
        "TASKGATE_TTS__VOICES_DIR": str(voices),
        "OPENAI_BASE_URL": llm.url,
        "OPENAI_API_KEY": "test-key",
        "TASKGATE_AUDIO__SEPARATION_MODEL_PATH": str(root / "mdx.onnx"),
        "TASKGATE_AUDIO__SEPARATION_N_FFT": "256",
        "TASKGATE_AUDIO__SEPARATION_HOP": "64",
        "TASKGATE_AUDIO__SEPARATION_SAMPLE_RATE": "16000",
    }
    (root / "run").mkdir()
    with shared_system(redis_server.url, root / "run", [*VOICE_QUEUES, "audio"], env) as system:
        system.model_path = root / "mdx.onnx"  # type: ignore[attr-defined]
        yield system


@pytest.fixture
async def client(plan_system: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, plan_system.base_url)


def write(share: Path, rel: str, text: str) -> str:
    (share / rel).parent.mkdir(parents=True, exist_ok=True)
    (share / rel).write_text(text, encoding="utf-8")
    return rel


def srt(lines: list[tuple[float, float, str]]) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for i, (a, b, text) in enumerate(lines, start=1))


def projection(signal: np.ndarray, reference: np.ndarray) -> float:
    """Return how much of ``reference`` is in ``signal`` (least-squares gain)."""
    return float(np.dot(signal, reference) / np.dot(reference, reference))


def rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt((samples**2).mean()) + 1e-12))


SPEECH_AT = [(1.0, 3.5), (5.5, 8.0)]
SOUND_LINES = [
    (1.0, 3.5, "Good morning to everyone in the room today."),
    (5.5, 8.0, "The budget meeting moves to Friday afternoon."),
]


async def test_the_default_mux_keeps_the_music_between_lines_and_ducks_the_original_speech_under_each_line(
    plan_system: System, client: Client
) -> None:
    share = plan_system.share_dir
    t = np.arange(10 * RATE) / RATE
    bed = (0.05 * np.sin(2 * np.pi * 196 * t) + 0.04 * np.sin(2 * np.pi * 247 * t)).astype(np.float32)
    voice = decode_mono(MEETING, MEETING.name, RATE)
    speech = np.zeros_like(bed)
    for (a, b), offset in zip(SPEECH_AT, (0.0, 3.0), strict=True):
        piece = voice[int(offset * RATE) : int((offset + b - a) * RATE)]
        speech[int(a * RATE) : int(a * RATE) + piece.shape[0]] = piece * (0.4 / np.abs(voice).max())
    write_wav(share / "film" / "soundtrack.wav", bed + speech)
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc=duration=10:size=160x120:rate=10", "-i", str(share / "film" / "soundtrack.wav"),
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest",
        str(share / "film" / "film.mp4"),
    )  # fmt: skip
    subs = write(share, "film/dub.srt", srt(SOUND_LINES))
    await client.submit(DUB, {"subtitle_path": subs, "duration_s": 10.0}, task_id="sound")
    audio = "${{ stages.tts.synthesize_subtitles.output.audio_path }}"
    await client.submit(MUX, {"video_path": "film/film.mp4", "audio_path": audio}, task_id="sound")
    await client.submit("faster_whisper.transcribe_audio", {"audio_path": audio, "language": "en"}, task_id="sound")
    record = await client.wait("sound", timeout_s=180)
    assert record["status"] == "SUCCESS", record
    stages = record["stages"]
    manifest = json.loads((share / stages[DUB]["output"]["manifest_path"]).read_text())
    lines = manifest["cues"]
    assert [line["cues"] for line in lines] == [[0], [1]]
    assert all(line["speed"] <= 1.25 for line in lines)

    # every word our own transcription hears lies inside its line's window (Whisper's word edges are rough,
    # tiny.en's first word often starts a few hundred ms early: the middle of each word is what is checked)
    transcript = json.loads((share / stages["faster_whisper.transcribe_audio"]["output"]["segments_file"]).read_text())
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert len(words) >= 8, words
    for word in words:
        assert any(
            line["window_start_s"] - 0.1 <= (word["start"] + word["end"]) / 2 <= line["window_end_s"] + 0.1
            for line in lines
        ), (word, lines)

    dubbed = decode_mono(share / stages[MUX]["output"]["video_path"], "dubbed", RATE)
    original = decode_mono(share / "film" / "film.mp4", "film", RATE)
    # the bed between lines: within 1 dB of the original
    gaps = [(0.2, lines[0]["audio_start_s"] - 0.4), (lines[0]["audio_end_s"] + 0.45, lines[1]["audio_start_s"] - 0.4)]
    gaps.append((lines[1]["audio_end_s"] + 0.45, 9.8))
    for a, b in gaps:
        assert b - a > 0.3, gaps
        span = slice(int(a * RATE), int(b * RATE))
        assert abs(rms_db(dubbed[span]) - rms_db(original[span])) < 1.0, (a, b)
    # the original speech inside each dubbed line: at least 15 dB down
    for line, (a, b) in zip(lines, SPEECH_AT, strict=True):
        start, end = max(line["audio_start_s"], a) + 0.1, min(line["audio_end_s"], b) - 0.1
        span = slice(int(start * RATE), int(end * RATE))
        kept = projection(dubbed[span], speech[span]) / projection(original[span], speech[span])
        assert 20 * np.log10(abs(kept) + 1e-9) <= -15.0, (line, kept)


TWO_SPEAKERS = [
    (0.5, 2.5, "SPEAKER_00: Where were you last night?"),
    (3.0, 5.0, "SPEAKER_01: I was at home, reading a book."),
    (5.5, 7.5, "SPEAKER_00: Nobody saw you there."),
    (8.0, 10.0, "SPEAKER_01: The cat did, and she never lies."),
]


async def test_two_speakers_get_two_installed_voices_chosen_automatically(plan_system: System, client: Client) -> None:
    subs = write(plan_system.share_dir, "talk/two.srt", srt(TWO_SPEAKERS))
    await client.submit(DUB, {"subtitle_path": subs}, task_id="two")
    record = await client.wait("two", timeout_s=90)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    assert out["voices"] == {"SPEAKER_00": "en_US-joe-medium", "SPEAKER_01": SLOW_VOICE}
    manifest = json.loads((plan_system.share_dir / out["manifest_path"]).read_text())
    assert [(c["speaker"], c["voice"]) for c in manifest["cues"]] == [
        ("SPEAKER_00", "en_US-joe-medium"),
        ("SPEAKER_01", SLOW_VOICE),
        ("SPEAKER_00", "en_US-joe-medium"),
        ("SPEAKER_01", SLOW_VOICE),
    ]
    rates = manifest["speaking_rates_cps"]
    assert rates[SLOW_VOICE] < 0.85 * rates["en_US-joe-medium"]  # the audio itself shows two voices


async def test_a_named_voice_map_is_kept_server_side_checked_and_extended_by_a_dub(
    plan_system: System, client: Client
) -> None:
    status, body, _ = await client.request(
        "PUT", "/v1/tts/voice-maps/show", json={"voices": {"SPEAKER_01": "en_US-nobody-low"}}
    )
    assert status == 422, body
    assert body["errors"][0]["pointer"] == "$.voices.SPEAKER_01"
    assert "en_US-joe-medium" in body["detail"]
    assert SLOW_VOICE in body["detail"]  # the message lists the voices
    status, body, _ = await client.request(
        "PUT", "/v1/tts/voice-maps/show", json={"voices": {"SPEAKER_01": "en_US-joe-medium"}}
    )
    assert status == 201, body

    subs = write(plan_system.share_dir, "talk/show.srt", srt(TWO_SPEAKERS))
    await client.submit(DUB, {"subtitle_path": subs, "voice_map": "show"}, task_id="show")
    record = await client.wait("show", timeout_s=90)
    assert record["status"] == "SUCCESS", record
    # the stored speaker keeps its voice; the new one gets the voice nobody in the map has
    expected = {"SPEAKER_01": "en_US-joe-medium", "SPEAKER_00": SLOW_VOICE}
    assert record["stages"][DUB]["output"]["voices"] == expected
    status, body, _ = await client.request("GET", "/v1/tts/voice-maps/show")
    assert (status, body["voices"]) == (200, expected)
    status, body, _ = await client.request("GET", "/v1/tts/voice-maps")
    assert body["voice_maps"] == ["show"]
    status, body, _ = await client.request("GET", "/v1/tts/voice-maps/other")
    assert status == 404, body


async def test_a_line_that_cannot_fit_at_the_speed_cap_is_shortened_by_the_llm_to_its_budget(
    plan_system: System, client: Client, llm: ShorteningLlm
) -> None:
    share = plan_system.share_dir
    long_line = (
        "In the beginning of the long summer holidays we went together to the old house by the sea "
        "where our grandmother used to live."
    )
    subs = write(share, "short/lines.srt", srt([(0.5, 2.0, long_line), (3.0, 4.5, "Then it rained.")]))
    make_video(share / "short" / "silent.mp4", 5.0, audio=False, size="160x120")
    await client.submit(DUB, {"subtitle_path": subs, "duration_s": 5.0}, task_id="short")
    audio = "${{ stages.tts.synthesize_subtitles.output.audio_path }}"
    await client.submit(MUX, {"video_path": "short/silent.mp4", "audio_path": audio}, task_id="short")
    record = await client.wait("short", timeout_s=90)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    assert (out["lines_shortened"], out["lines_too_long"]) == (1, 0)
    first, second = json.loads((share / out["manifest_path"]).read_text())["cues"]
    assert (first["decision"], first["original_text"]) == ("shortened", long_line)
    budget, asked = llm.requests[-1]
    assert asked == long_line
    assert len(first["text"]) <= budget < len(long_line)
    assert first["speed"] <= 1.25
    assert first["audio_end_s"] <= first["window_end_s"] + 0.05 <= second["start_s"]
    assert second["decision"] == "natural"
    # a video without sound: the dub becomes its only audio track
    dubbed = share / record["stages"][MUX]["output"]["video_path"]
    assert [s["type"] for s in streams(dubbed)] == ["video", "audio"]


def tiny_mdx(path: Path, *, channels: int = 4, gain: float = 0.5) -> None:
    """Write an ONNX model with MDX-Net's signature that keeps ``gain`` of the spectrogram as 'vocals'."""
    shape: list[int | str] = ["batch", channels, 128, 32]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)
    node = helper.make_node("Mul", ["input", "gain"], ["output"])
    graph = helper.make_graph(
        [node], "tiny_mdx", [x], [y], initializer=[helper.make_tensor("gain", TensorProto.FLOAT, [], [gain])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.unlink(missing_ok=True)
    onnx.save(model, str(path))


async def test_separation_names_its_setting_when_the_model_is_missing_or_wrong_and_feeds_background_mode(
    plan_system: System, client: Client
) -> None:
    share = plan_system.share_dir
    model: Path = plan_system.model_path  # type: ignore[attr-defined]
    make_video(share / "sep" / "clip.mp4", 3.0, size="160x120", tone_hz=300)
    separate = {"audio_path": "sep/clip.mp4"}
    await client.submit("audio.separate_vocals", separate, task_id="sep-missing")
    tiny_mdx(model, channels=2)
    await client.submit("audio.separate_vocals", separate, task_id="sep-wrong")
    for task_id in ("sep-missing", "sep-wrong"):
        record = await client.wait(task_id, timeout_s=60)
        assert record["status"] == "FAILED", record
        assert "audio.separation_model_path" in record["error"]["message"], record["error"]
        assert not (share / "workflows" / task_id / "audio.separate_vocals" / "vocals.wav").exists()

    tiny_mdx(model)
    await client.submit("audio.separate_vocals", separate, task_id="sep")
    await client.submit("tts.synthesize", {"text": "Hello."}, task_id="sep")
    await client.submit(
        MUX,
        {
            "video_path": "sep/clip.mp4",
            "audio_path": "${{ stages.tts.synthesize.output.audio_path }}",
            "mode": "background",
            "background_path": "${{ stages.audio.separate_vocals.output.accompaniment_path }}",
        },
        task_id="sep",
    )
    record = await client.wait("sep", timeout_s=90)
    assert record["status"] == "SUCCESS", record
    out = record["stages"]["audio.separate_vocals"]["output"]
    assert abs(out["duration_s"] - 3.0) < 0.1
    mix = decode_mono(share / "sep" / "clip.mp4", "clip", RATE)
    vocals = decode_mono(share / out["vocals_path"], "vocals", RATE)
    accompaniment = decode_mono(share / out["accompaniment_path"], "accompaniment", RATE)
    middle = slice(RATE // 2, 5 * RATE // 2)
    assert abs(projection(vocals[middle], mix[middle]) - 0.5) < 0.02  # the model's half, through STFT and back
    assert abs(projection(accompaniment[middle], mix[middle]) - 0.5) < 0.02
    dubbed = decode_mono(share / record["stages"][MUX]["output"]["video_path"], "dubbed", RATE)
    tail = slice(2 * RATE, 3 * RATE - RATE // 10)  # after "Hello.": the accompaniment alone, at its level
    assert abs(rms_db(dubbed[tail]) - rms_db(accompaniment[tail])) < 1.0
    shutil.rmtree(share / "sep")
