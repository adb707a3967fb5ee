"""The one registry of tasks: importing it registers every service's tasks.

Each service is a package (``actors/<service>/``) whose ``tasks`` module declares its tasks with
``actors.spec.task``; this module imports them all, so ``REGISTRY`` is complete once it is imported.
"""

from actors.audio import tasks as audio
from actors.faster_whisper import tasks as faster_whisper
from actors.ffmpeg import mux as ffmpeg_mux
from actors.ffmpeg import subtitle_video as ffmpeg_subtitles
from actors.ffmpeg import tasks as ffmpeg
from actors.inpainting import tasks as inpainting
from actors.llm import tasks as llm
from actors.llm import terms_task as llm_terms
from actors.llm import translate_tasks as llm_translate
from actors.paddleocr import tasks as paddleocr
from actors.pipeline import tasks as pipeline
from actors.pyannote_audio import tasks as pyannote_audio
from actors.spec import QUEUES, REGISTRY, TaskSpec, always, get_spec, never, task
from actors.subtitles import tasks as subtitles
from actors.system import tasks as system
from actors.tts import tasks as tts

SERVICES = (
    ffmpeg,
    ffmpeg_mux,
    ffmpeg_subtitles,
    system,
    llm,
    llm_translate,
    llm_terms,
    subtitles,
    paddleocr,
    inpainting,
    faster_whisper,
    pyannote_audio,
    tts,
    audio,
    pipeline,
)
# Pipelines are checked against every other task's schema: registered once all of them are.
pipeline.register()

__all__ = ["QUEUES", "REGISTRY", "SERVICES", "TaskSpec", "always", "get_spec", "never", "task"]
