"""Build a tiny random-weight pyannote diarization pipeline on disk (no speaker weights exist offline).

The folder has the layout of a hub pipeline (``config.yaml`` naming
``pyannote.audio.pipelines.SpeakerDiarization``, ``segmentation/`` and ``embedding/`` checkpoints,
``plda/`` matrices), so ``Pipeline.from_pretrained(folder)`` loads it through the real code path.
Its labels are meaningless; the loading and plumbing are real.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import yaml

_LDA_DIM = 128
_EMBEDDING_DIM = 256

CONFIG: dict[str, Any] = {
    "pipeline": {
        "name": "pyannote.audio.pipelines.SpeakerDiarization",
        "params": {
            "segmentation": "$model/segmentation",
            "embedding": "$model/embedding",
            "plda": "$model/plda",
            "clustering": "VBxClustering",
            "segmentation_step": 1.0,
            "embedding_batch_size": 16,
            "segmentation_batch_size": 16,
        },
    },
    "params": {
        "segmentation": {"min_duration_off": 0.0},
        "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
    },
}


def _checkpoint(model: Any) -> dict[str, Any]:
    import lightning

    checkpoint: dict[str, Any] = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    return checkpoint


def build_tiny_pipeline(folder: Path, seed: int = 0) -> Path:
    """Write the pipeline into ``folder`` and return it."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    import numpy as np
    import torch

    with warnings.catch_warnings():
        # we pass waveforms in memory: pyannote's file decoder (torchcodec) is not needed
        warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
        from pyannote.audio.core.task import Problem, Resolution, Specifications
        from pyannote.audio.models.embedding import WeSpeakerResNet34
        from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(seed)
    segmentation = PyanNet(lstm={"hidden_size": 32, "num_layers": 1}, linear={"hidden_size": 32, "num_layers": 1})
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=5.0,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    segmentation.build()
    embedding = WeSpeakerResNet34()
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0)
    for name, model in (("segmentation", segmentation), ("embedding", embedding)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        torch.save(_checkpoint(model), folder / name / "pytorch_model.bin")

    rng = np.random.default_rng(seed)
    (folder / "plda").mkdir(parents=True, exist_ok=True)
    lda, _ = np.linalg.qr(rng.standard_normal((_EMBEDDING_DIM, _LDA_DIM)))
    np.savez(folder / "plda" / "xvec_transform.npz", mean1=np.zeros(_EMBEDDING_DIM), mean2=np.zeros(_LDA_DIM), lda=lda)
    np.savez(
        folder / "plda" / "plda.npz", mu=np.zeros(_LDA_DIM), tr=np.eye(_LDA_DIM), psi=np.linspace(2.0, 0.5, _LDA_DIM)
    )
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return folder
