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
from config import ConfigError, Settings

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


def check_task_names(settings: Settings) -> None:
    """Check that per-task settings name registered tasks.

    Raises:
        ConfigError: a ``task_retries``, ``task_timeout_levels`` or API key ``limits.per_task`` key is not a
            registered task_name.
    """
    sections: dict[str, set[str]] = {
        "task_retries": set(settings.task_retries),
        "gpu_lock_monitor.task_timeout_levels": set(settings.gpu_lock_monitor.task_timeout_levels),
        "queueing.task_priority": set(settings.queueing.task_priority),
    }
    for key in settings.auth.api_keys:
        if key.limits is not None:
            sections[f"auth.api_keys[{key.name}].limits.per_task"] = set(key.limits.per_task)
    for section, names in sections.items():
        unknown = sorted(names - set(REGISTRY))
        if unknown:
            raise ConfigError(f"{section}: unknown task_name {unknown[0]!r}; GET /v1/task-types lists the tasks")


# Pipelines are checked against every other task's schema: registered once all of them are.
pipeline.register()

__all__ = ["QUEUES", "REGISTRY", "SERVICES", "TaskSpec", "always", "check_task_names", "get_spec", "never", "task"]
