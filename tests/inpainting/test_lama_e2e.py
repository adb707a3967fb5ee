"""LaMa through a real worker: the model file named by the setting is loaded and repairs the text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.harness import Client, System
from tests.inpainting.quality import measure, text_frame_indexes
from tests.inpainting.tiny_lama import build_tiny_lama
from tests.media import make_textured_pair

LINES = [(0.0, 0.6, "Text from the start")]  # no earlier frame to take pixels from: the model fills it all


async def test_remove_subtitles_with_lama_from_the_configured_model_file(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    model = build_tiny_lama(tmp_path / "lama.onnx", 64)
    system = make_system({"TASKGATE_INPAINTING__LAMA_MODEL_PATH": str(model)})
    system.start_worker(queues=["inpainting"], processes=1, threads=1)
    system.start_gateway()
    root = system.share_dir
    make_textured_pair(root / "t.mp4", root / "c.mp4", LINES, 1.0, size=(320, 180), font_size=20, pan_px=0)

    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        data = {"video_path": "t.mp4", "engine": "lama", "subtitle_area": [0, 120, 320, 180]}
        await client.submit("inpainting.remove_subtitles", data, task_id="lama")
        record = await client.wait("lama", timeout_s=60)

    assert record["status"] == "SUCCESS", record
    output = record["stages"]["inpainting.remove_subtitles"]["output"]
    assert output["engine"] == "lama"
    assert output["frames_inpainted"] == 15
    quality = measure(
        root / output["video_path"],
        root / "c.mp4",
        root / "t.mp4",
        [0, 120, 320, 180],
        text_frame_indexes(LINES, 25, 25),
    )
    assert quality.band_text_db > quality.input_band_text_db + 3, quality  # a local mean, not LaMa's quality
    assert '"engine": "lama"' in system.logs("worker")
