"""``allow_video_stretch``: a line that fits nowhere else gets a longer window by slowing the picture down.

Real Piper speech, real ffmpeg. The clip is a 25 fps test pattern (its frame counter changes every frame)
whose sound is silence with two beeps, one before the slowed span and one after it: the picture and the
film's sound must both move by the time the span adds, and nothing before the span may change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actors.ffmpeg.media import probe
from actors.ffmpeg.pcm import decode_mono
from actors.subtitles.formats import read_cues
from tests.harness import Client, System
from tests.media import read_frames, run_ffmpeg
from tests.speech.audio import write_wav
from tests.voice.signal import energy

DUB, MUX = "tts.synthesize_subtitles", "ffmpeg.mux_audio"
FPS = 25
CLIP_S = 10.0
RATE = 16000
BEEPS_S = (0.3, 9.0)
SUBTITLES = """1
00:00:01,000 --> 00:00:02,000
Hello there.

2
00:00:03,000 --> 00:00:04,000
This sentence is much too long to be spoken in the single second its cue is given here.

3
00:00:06,000 --> 00:00:07,000
See you then.
"""


def clip(share: Path) -> str:
    """Write the 10 s clip (test pattern, silence with two 1 kHz beeps) and return its path in the share."""
    t = np.arange(int(CLIP_S * RATE)) / RATE
    sound = np.zeros_like(t, dtype=np.float32)
    for at in BEEPS_S:
        inside = (t >= at) & (t < at + 0.2)
        sound[inside] = 0.5 * np.sin(2 * np.pi * 1000 * t[inside])
    write_wav(share / "stretch" / "sound.wav", sound)
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=duration={CLIP_S}:size=160x120:rate={FPS}", "-i",
        str(share / "stretch" / "sound.wav"), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10",
        "-c:a", "aac", "-b:a", "192k", "-shortest", str(share / "stretch" / "clip.mp4"),
    )  # fmt: skip
    (share / "stretch" / "dub.srt").write_text(SUBTITLES, encoding="utf-8")
    return "stretch/clip.mp4"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def beep_onsets(path: Path) -> list[float]:
    """Return where each 1 kHz beep starts: 20 ms windows (5 ms apart) whose sound is mostly that tone."""
    samples = decode_mono(path, path.name, RATE)
    window, hop = RATE // 50, RATE // 200
    t = np.arange(window) / RATE
    tone = np.exp(-2j * np.pi * 1000 * t)
    starts = range(0, samples.shape[0] - window, hop)
    frames = np.stack([samples[i : i + window] for i in starts])
    power = (frames**2).sum(axis=1)
    in_tone = 2 * np.abs(frames @ tone) ** 2 / window
    beep = (power > 0.1 * window * 0.125) & (in_tone > 0.8 * power)
    return [i * hop / RATE for i in range(1, len(beep)) if beep[i] and not beep[max(0, i - 40) : i].any()]


async def test_bad_stretch_bounds_are_refused_naming_the_field(voice_client: Client) -> None:
    for bound in (0.9, 2.5):
        status, body, _ = await voice_client.request(
            "POST",
            "/v1/tasks",
            json={"task_name": DUB, "input_data": {"subtitle_path": "s.srt", "max_video_stretch": bound}},
        )
        assert status == 422, body
        assert body["errors"][0]["pointer"] == "$.input_data.max_video_stretch"


async def test_a_line_that_fits_nowhere_is_too_long_without_the_option_and_stretches_the_picture_with_it(
    voice_system: System, voice_client: Client
) -> None:
    share = voice_system.share_dir
    video = clip(share)
    dub = {"subtitle_path": "stretch/dub.srt", "duration_s": CLIP_S, "merge": False, "shorten": False}
    audio = "${{ stages.tts.synthesize_subtitles.output.audio_path }}"
    manifest_ref = "${{ stages.tts.synthesize_subtitles.output.manifest_path }}"
    await voice_client.submit(DUB, dub, task_id="plain")
    await voice_client.submit(MUX, {"video_path": video, "audio_path": audio}, task_id="plain")
    await voice_client.submit(DUB, {**dub, "allow_video_stretch": True, "max_video_stretch": 2.0}, task_id="slow")
    mux = {"video_path": video, "audio_path": audio, "manifest_path": manifest_ref}
    await voice_client.submit(MUX, mux, task_id="slow")
    await voice_client.submit(DUB, {**dub, "allow_video_stretch": True, "max_video_stretch": 1.05}, task_id="capped")
    plain = await voice_client.wait("plain", timeout_s=120)
    slow = await voice_client.wait("slow", timeout_s=120)
    assert plain["status"] == "SUCCESS", plain
    assert slow["status"] == "SUCCESS", slow

    # without the option: reported, and the video keeps its length
    plain_lines = json.loads((share / plain["stages"][DUB]["output"]["manifest_path"]).read_text())["cues"]
    assert [line["decision"] for line in plain_lines][1] == "too_long"
    assert plain["stages"][DUB]["output"]["lines_stretched"] == 0
    assert abs(plain["stages"][MUX]["output"]["duration_s"] - CLIP_S) < 1.5 / FPS

    # a bound too small for the line: slowed by the bound, and still reported (cut before the next line)
    capped = await voice_client.wait("capped", timeout_s=120)
    assert capped["status"] == "SUCCESS", capped
    capped_out = capped["stages"][DUB]["output"]
    capped_line = json.loads((share / capped_out["manifest_path"]).read_text())["cues"][1]
    assert (capped_line["decision"], capped_line["video_stretch"]["factor"]) == ("too_long", 1.05)
    assert capped_line["cut_s"] > 0
    assert capped_out["lines_stretched"] == 0
    assert capped_out["video_stretched_s"] > 0

    # with it: the line is stretched, just enough to be spoken whole at max_speed
    out = slow["stages"][DUB]["output"]
    manifest = json.loads((share / out["manifest_path"]).read_text())
    first, second, third = manifest["cues"]
    assert [first["decision"], second["decision"]] == ["natural", "stretched"]
    assert third["decision"] in ("natural", "borrowed")
    span = second["video_stretch"]
    assert manifest["video_stretches"] == [span]
    assert 1.0 < span["factor"] <= 2.0
    assert span["start_s"] >= first["audio_end_s"]
    assert span["end_s"] <= 6.0 - 0.1 + 1e-6
    added_s = (span["end_s"] - span["start_s"]) * (span["factor"] - 1)
    assert abs(out["video_stretched_s"] - added_s) < 0.002
    assert (second["speed"], second["cut_s"]) == (1.25, 0)
    window_s = second["window_end_s"] - second["window_start_s"]
    assert second["spoken_s"] / 1.25 <= window_s + 0.002 < second["spoken_s"] / 1.25 + 0.01
    # every later line, in the manifest and in the track, comes added_s later; nothing before the span moves
    assert (first["start_s"], first["shift_s"]) == (1.0, 0.0)
    assert abs(third["start_s"] - (6.0 + added_s)) < 0.002
    assert abs(third["shift_s"] - added_s) < 0.002
    assert abs(out["duration_s"] - (CLIP_S + added_s)) < 0.002
    track = share / out["audio_path"]
    assert energy(track, third["audio_start_s"], third["audio_end_s"]) > 0.03
    assert energy(track, second["audio_end_s"] + 0.05, third["audio_start_s"] - 0.05) < 0.005
    # the subtitles after the span shift too
    cues = read_cues(share / out["subtitle_path"], out["subtitle_path"])
    assert [c.text for c in cues] == [c.text for c in read_cues(share / "stretch/dub.srt", "dub.srt")]
    assert (cues[0].start_s, cues[0].end_s) == (1.0, 2.0)
    assert abs(cues[2].start_s - (6.0 + added_s)) < 0.002

    # the video: longer by the time added (within a frame), sound and picture as long as each other
    muxed = share / slow["stages"][MUX]["output"]["video_path"]
    assert abs(slow["stages"][MUX]["output"]["duration_s"] - (CLIP_S + added_s)) <= 1.0 / FPS
    assert abs(slow["stages"][MUX]["output"]["video_stretched_s"] - added_s) <= 1.0 / FPS
    streams = {s["type"]: s for s in probe(muxed, "muxed")["streams"]}
    assert abs(streams["video"]["duration_s"] - (CLIP_S + added_s)) <= 1.0 / FPS
    assert abs(streams["audio"]["duration_s"] - streams["video"]["duration_s"]) <= 1.0 / FPS
    # the film's own sound moved with the picture: the beep before the span in place, the one after it shifted
    onsets = beep_onsets(muxed)
    assert len(onsets) == 2, onsets
    assert abs(onsets[0] - BEEPS_S[0]) < 0.03
    assert abs(onsets[1] - (BEEPS_S[1] + added_s)) < 1.0 / FPS + 0.03

    # the picture: untouched before the span, each later frame the source's frame from added_s earlier
    source, stretched = list(read_frames(share / video)), list(read_frames(muxed))
    assert abs(len(stretched) - len(source) - round(added_s * FPS)) <= 1
    before = int(span["start_s"] * FPS)
    assert min(psnr(source[i], stretched[i]) for i in range(0, before, 5)) > 35
    shift = round(added_s * FPS)
    after = range(round(span["end_s"] * FPS) + 1, len(source) - 1, 5)
    assert min(psnr(source[i], stretched[i + shift]) for i in after) > 35
    # and inside the span, the picture plays slower: the frame at 3/4 of the slowed span is the source's at 3/4
    a, b, factor = span["start_s"], span["end_s"], span["factor"]
    mid_src = a + 0.75 * (b - a)
    mid_out = a + 0.75 * (b - a) * factor
    assert psnr(source[round(mid_src * FPS)], stretched[round(mid_out * FPS)]) > 30
    assert psnr(source[round(mid_out * FPS)], stretched[round(mid_out * FPS)]) < 25

    # add_track keeps the original track: it is slowed like the picture too; a file that is no manifest fails
    kept = {"video_path": video, "audio_path": out["audio_path"], "manifest_path": out["manifest_path"]}
    await voice_client.submit(MUX, {**kept, "mode": "add_track", "language": "fra"}, task_id="kept")
    await voice_client.submit(MUX, {**kept, "manifest_path": "stretch/dub.srt"}, task_id="nomanifest")
    bed = {**kept, "mode": "background", "background_path": "stretch/sound.wav"}
    await voice_client.submit(MUX, bed, task_id="bed")
    record = await voice_client.wait("kept", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    tracks = share / record["stages"][MUX]["output"]["video_path"]
    durations = [s["duration_s"] for s in probe(tracks, "tracks")["streams"]]
    assert len(durations) == 3
    assert max(durations) - min(durations) <= 1.0 / FPS
    assert abs(beep_onsets(tracks)[1] - (BEEPS_S[1] + added_s)) < 1.0 / FPS + 0.03  # the kept original track
    failed = await voice_client.wait("nomanifest", timeout_s=60)
    assert failed["status"] == "FAILED", failed
    assert failed["error"]["type"] == "InputFileError"
    assert "stretch/dub.srt" in failed["error"]["message"]
    # background: the separate bed (here the clip's own sound) is slowed like the picture as well
    record = await voice_client.wait("bed", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    onsets = beep_onsets(share / record["stages"][MUX]["output"]["video_path"])
    assert abs(onsets[0] - BEEPS_S[0]) < 0.03
    assert abs(onsets[1] - (BEEPS_S[1] + added_s)) < 1.0 / FPS + 0.03
