"""Settings of the ``tts`` service: the default engine and voice, Piper's voices, the GPT-SoVITS server."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.section import Section as _Section

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]


class ClonedVoice(_Section):
    """A GPT-SoVITS voice: a reference clip (a storage-root path) and what is said in it."""

    reference_audio: str
    prompt_text: str
    prompt_language: str = "en"


class GptSovitsSettings(_Section):
    """A GPT-SoVITS ``api_v2`` server (``python api_v2.py -a 0.0.0.0 -p 9880``)."""

    # http://gpu-host:9880; unset: the gpt_sovits engine fails, naming this setting
    url: str | None = None
    timeout_s: PositiveSeconds = 300.0
    # where the storage root appears on the server's filesystem (it reads ref_audio_path itself);
    # unset: the same path as on the worker (a shared volume mounted at the same place)
    share_dir: str | None = None
    # take a GPU lease for each call: set when the server runs on a GPU that gpu_lock.devices manages
    gpu_lease: bool = False
    # named voices a request may use: {narrator: {reference_audio: voices/narrator.wav, prompt_text: "..."}}
    voices: dict[str, ClonedVoice] = msgspec.field(default_factory=dict)
    text_split_method: str = "cut5"


class TtsSettings(_Section):
    """Text to speech: the default engine and voice, Piper's voice folder and device."""

    engine: Literal["piper", "gpt_sovits"] = "piper"
    # default voice name; unset: en_US-joe-medium when installed, else the first voice found
    voice: str | None = None
    # a folder of Piper voices (NAME.onnx + NAME.onnx.json), besides the installed voice packages
    voices_dir: str | None = None
    # auto: cuda when the host shows an NVIDIA device; the GPU lease is taken only for cuda
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    # silence between sentences when a long text is split
    sentence_pause_s: Annotated[float, msgspec.Meta(ge=0, le=5)] = 0.25
    gpt_sovits: GptSovitsSettings = msgspec.field(default_factory=GptSovitsSettings)
