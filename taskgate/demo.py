"""``make demo``: make a sample video here, run it through the offline pipelines, print where each output is.

It starts its own Redis, workers and gateway (on free ports, under ``data/demo``), so it runs beside a
``make run``, and stops them at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from actors.subtitles.formats import parse_srt
from taskgate.demo_media import sample_video, voice_name
from taskgate.embedded_redis import EmbeddedRedis, free_port
from taskgate.http_client import Api, CliError

DEMO_DIR = Path("data/demo")
QUEUES = ["ffmpeg", "faster_whisper", "subtitles", "paddleocr"]
STAGES: list[tuple[str, dict[str, Any]]] = [
    ("ffmpeg.extract_audio", {"video_path": "videos/demo.mp4"}),
    ("faster_whisper.transcribe_audio", {"audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}),
    (
        "subtitles.generate_files",
        {"segments_file": "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}"},
    ),
    ("paddleocr.extract_subtitles", {"video_path": "videos/demo.mp4"}),
]
_TIMEOUT_S = 600


def _wait_up(api: Api, gateway: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            raise SystemExit("taskgate demo: the gateway exited; see data/demo/logs/gateway.log")
        try:
            api.call("GET", "/healthz")
        except CliError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit("taskgate demo: the gateway did not answer within 60 s")


def _follow(api: Api, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + _TIMEOUT_S
    shown: dict[str, str] = {}
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.call("GET", f"/v1/tasks/{task_id}")
        for name, stage in record["stages"].items():
            if shown.get(name) != stage["status"]:
                shown[name] = stage["status"]
                print(f"  {name:<34} {stage['status']}", flush=True)
        if all(s["status"] in ("SUCCESS", "FAILED", "CANCELLED") for s in record["stages"].values()):
            return record
        time.sleep(0.5)
    raise SystemExit(f"taskgate demo: {task_id} did not finish within {_TIMEOUT_S} s")


def _report(record: dict[str, Any], share: Path) -> int:
    failed = 0
    print("\noutputs (paths are in the storage root; full paths shown):")
    for name, stage in record["stages"].items():
        if stage["status"] != "SUCCESS":
            failed += 1
            print(f"  {name}: {stage['status']}: {(stage.get('error') or {}).get('message')}")
            continue
        for key, value in stage["output"].items():
            if isinstance(value, str) and (share / value).is_file():
                print(f"  {name} {key}: {(share / value).resolve()}")
            if key == "srt_path":  # what was heard, and what was read off the frames
                texts = [" ".join(c.text.split()) for c in parse_srt((share / value).read_text())]
                print(f"    text: {' / '.join(texts)}")
    return 1 if failed else 0


def _start(name: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def main() -> int:
    """Run the demo; return 0 when every stage succeeded."""
    share, logs = DEMO_DIR / "share", DEMO_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"making a sample video with {voice_name()} speech and burnt-in subtitles ...", flush=True)
    cues = sample_video(share / "videos" / "demo.mp4")
    print(f"  {(share / 'videos' / 'demo.mp4').resolve()}: {' / '.join(text for _, _, text in cues)}")
    redis = EmbeddedRedis(DEMO_DIR / "redis", persist=False)
    redis.start()
    port = free_port()
    env = {**os.environ, "TASKGATE_REDIS_URL": redis.url, "TASKGATE_SHARE_DIR": str(share.resolve())}
    env.update({"TASKGATE_PORT": str(port), "TASKGATE_LOG_FORMAT": "json", "TASKGATE_AUTH__API_KEYS": "[]"})
    worker = _start("workers", [sys.executable, "-m", "taskgate", "worker", "--queues", *QUEUES], env, logs)
    gateway = _start("gateway", [sys.executable, "-m", "gateway"], env, logs)
    try:
        api = Api(f"http://127.0.0.1:{port}")
        _wait_up(api, gateway)
        task_id = f"demo-{int(time.time())}"
        print(f"running task {task_id} (the first run loads the models) ...", flush=True)
        for task_name, input_data in STAGES:
            api.call("POST", "/v1/tasks", {"task_id": task_id, "task_name": task_name, "input_data": input_data})
        return _report(_follow(api, task_id), share)
    finally:
        for proc in (gateway, worker):
            proc.terminate()
        for proc in (gateway, worker):
            proc.wait(30)
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
