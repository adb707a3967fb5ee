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


class AudioSettings(_Section):
    """Audio work beside the dub: vocal separation (``audio.separate_vocals``)."""

    # an MDX-Net (UVR) ONNX model: input (batch, 4, dim_f, dim_t) = the stereo spectrogram's real and
    # imaginary parts, output the same shape = the separated stem; no package ships its weights
    separation_model_path: str | None = None
    # the model's STFT: UVR's MDX-Net models use n_fft 6144 (7680 for some), hop 1024, 44.1 kHz
    separation_n_fft: Annotated[int, msgspec.Meta(ge=64, le=16384)] = 6144
    separation_hop: Annotated[int, msgspec.Meta(ge=16, le=4096)] = 1024
    separation_sample_rate: Annotated[int, msgspec.Meta(ge=8000, le=96000)] = 44100
    # what the model outputs: the vocals (the accompaniment is the mix less them), or the instrumental
    separation_stem: Literal["vocals", "instrumental"] = "vocals"
