"""MDX-Net (UVR) vocal separation on onnxruntime: stereo spectrogram chunks in, the separated stem out.

The model takes ``(batch, 4, dim_f, dim_t)``: the real and imaginary parts of both channels' STFT
(``separation_n_fft``, ``separation_hop``, Hann window, centred), cut to its ``dim_f`` lowest bins, over
``dim_t`` frames; it returns the stem's spectrogram in the same shape. The audio is cut into chunks of
``hop * (dim_t - 1)`` samples that overlap by ``n_fft`` (half a window trimmed at each side, as UVR
does), each turned back to samples with the inverse STFT. The sizes come from the model's input when it
fixes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.errors import EngineFailed, EngineUnavailable
from actors.worker.warm import WARM
from config.voice import AudioSettings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SETTING = "audio.separation_model_path"
_DEFAULT_DIM_T = 256


@dataclass(frozen=True)
class ModelKey:
    """What a loaded model is cached under: its file and that file's version."""

    path: str
    mtime_ns: int
    size: int


class MdxSeparator:
    """One loaded MDX-Net model and the STFT it expects."""

    def __init__(self, session: Any, settings: AudioSettings) -> None:
        self._session = session
        (first,) = session.get_inputs()[:1]
        self._input = first.name
        shape = list(first.shape)
        self.n_fft, self.hop = settings.separation_n_fft, settings.separation_hop
        bins = self.n_fft // 2 + 1
        if len(shape) != 4 or shape[1] != 4:
            raise EngineUnavailable(
                f"{SETTING}: the model takes input {shape}; an MDX-Net model takes (batch, 4, dim_f, dim_t)"
            )
        self.dim_f = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else bins - 1
        self.dim_t = shape[3] if isinstance(shape[3], int) and shape[3] > 0 else _DEFAULT_DIM_T
        if self.dim_f > bins:
            raise EngineUnavailable(
                f"{SETTING}: the model wants {self.dim_f} frequency bins, more than audio.separation_n_fft="
                f"{self.n_fft} gives ({bins}); set the n_fft the model was trained with"
            )
        self.batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 1

    @property
    def chunk(self) -> int:
        """Return the samples of one chunk."""
        return self.hop * (self.dim_t - 1)

    def separate(self, mix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Return the model's stem for ``mix`` (2 x samples), the same shape."""
        import numpy as np  # noqa: PLC0415

        trim = self.n_fft // 2
        step = self.chunk - 2 * trim
        if step <= 0:
            raise EngineUnavailable(f"{SETTING}: dim_t={self.dim_t} is too short for n_fft={self.n_fft}")
        length = mix.shape[1]
        pad = step - length % step
        padded = np.concatenate([np.zeros((2, trim), np.float32), mix, np.zeros((2, pad + trim), np.float32)], axis=1)
        out = np.zeros_like(padded)
        for start in range(0, length + pad, step):
            piece = padded[:, start : start + self.chunk]
            stem = self._istft(self._run(self._stft(piece)))
            out[:, start + trim : start + trim + step] = stem[:, trim : trim + step]
        return np.ascontiguousarray(out[:, trim : trim + length])

    def _run(self, spec: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        import numpy as np  # noqa: PLC0415

        feed = np.repeat(spec[None], self.batch, axis=0)
        try:
            (result,) = self._session.run(None, {self._input: feed})[:1]
        except Exception as exc:  # noqa: BLE001  (onnxruntime's errors are untyped)
            raise EngineFailed(f"the separation model ({SETTING}) failed on a chunk: {exc}") from None
        result = np.asarray(result, dtype=np.float32)
        if result.shape[1:] != spec.shape:
            raise EngineUnavailable(
                f"{SETTING}: the model returned {list(result.shape)}; expected (batch, *{list(spec.shape)})"
            )
        return np.asarray(result[0])

    def _window(self) -> npt.NDArray[np.float32]:
        import numpy as np  # noqa: PLC0415

        return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n_fft) / self.n_fft)).astype(np.float32)

    def _stft(self, piece: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Return (4, dim_f, dim_t): real and imaginary parts of each channel, centred frames."""
        import numpy as np  # noqa: PLC0415

        half = self.n_fft // 2
        framed = np.pad(piece, ((0, 0), (half, half)), mode="reflect")
        index = np.arange(self.dim_t)[:, None] * self.hop + np.arange(self.n_fft)[None, :]
        spectrum = np.fft.rfft(framed[:, index] * self._window(), axis=2)  # (2, dim_t, bins)
        spectrum = spectrum.transpose(0, 2, 1)[:, : self.dim_f]  # (2, dim_f, dim_t)
        return np.concatenate([spectrum.real, spectrum.imag], axis=0).astype(np.float32)

    def _istft(self, spec: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        import numpy as np  # noqa: PLC0415

        bins = self.n_fft // 2 + 1
        full = np.zeros((2, bins, self.dim_t), np.complex64)
        full[:, : self.dim_f] = spec[:2] + 1j * spec[2:]
        frames = np.fft.irfft(full.transpose(0, 2, 1), n=self.n_fft, axis=2) * self._window()  # (2, dim_t, n_fft)
        total = self.n_fft + self.hop * (self.dim_t - 1)
        out = np.zeros((2, total), np.float32)
        norm = np.zeros(total, np.float32)
        square = self._window() ** 2
        for t in range(self.dim_t):
            out[:, t * self.hop : t * self.hop + self.n_fft] += frames[:, t]
            norm[t * self.hop : t * self.hop + self.n_fft] += square
        half = self.n_fft // 2
        kept = out[:, half : half + self.chunk] / np.maximum(norm[half : half + self.chunk], 1e-8)
        return kept.astype(np.float32)


def load_separator(settings: AudioSettings) -> MdxSeparator:
    """Return the configured model, loaded once per worker process (and again when its file changes).

    Raises:
        EngineUnavailable: the setting is unset, the file is missing or is not an MDX-Net ONNX model.
    """
    configured = settings.separation_model_path
    if not configured:
        raise EngineUnavailable(
            f"no separation model: set {SETTING} to an MDX-Net (UVR) ONNX file; no package ships its weights"
        )
    path = Path(configured)
    try:
        stat = path.stat()
    except OSError:
        raise EngineUnavailable(f"{SETTING}={configured!r}: no such file") from None
    key = ModelKey(path=str(path), mtime_ns=stat.st_mtime_ns, size=stat.st_size)
    sizes = (settings.separation_n_fft, settings.separation_hop)
    separator, _ = WARM.get("mdx", (key, sizes), lambda: _load(key, settings))
    return separator


def _load(key: ModelKey, settings: AudioSettings) -> MdxSeparator:
    try:
        import onnxruntime  # noqa: PLC0415
    except ImportError as exc:
        raise EngineUnavailable(f"onnxruntime is not installed ({exc}): pip install 'taskgate[tts]'") from None
    try:
        session = onnxruntime.InferenceSession(key.path, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  (onnxruntime's errors are untyped)
        raise EngineUnavailable(f"{SETTING}={key.path!r} is not an ONNX model onnxruntime can load: {exc}") from None
    return MdxSeparator(session, settings)
