"""Make PyPI's torchaudio import next to a CPU-only torch: ``python -m taskgate.torchaudio_cpu``.

The torchaudio wheel on PyPI is built against CUDA torch: with the CPU torch its native extension
fails to load (``libc10_cuda.so``) and so does ``import torchaudio``. Without its native libraries in
the package folder, torchaudio takes its documented pure-Python path (the one used when the
libraries live elsewhere), which is all pyannote uses (resampling, kaldi fbank). This step renames
those libraries aside when torch has no CUDA, and puts them back when a CUDA torch is installed;
it is idempotent and belongs in the install, after pyannote.audio.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PARKED = ".cuda-build"
_CUDA_LIBS = (b"libc10_cuda.so", b"libtorch_cuda.so")


def torchaudio_lib_dir() -> Path | None:
    """Return torchaudio's ``lib`` folder, found without importing torchaudio (which may not import)."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "lib"


def needs_cuda(library: Path) -> bool:
    """Return whether a shared library links CUDA torch."""
    data = library.read_bytes()
    return any(name in data for name in _CUDA_LIBS)


def fix(lib_dir: Path, torch_has_cuda: bool) -> list[str]:
    """Park CUDA-linked libraries when torch is CPU-only, restore them otherwise; return what moved."""
    moved = []
    if torch_has_cuda:
        for parked in sorted(lib_dir.glob(f"*.so{PARKED}")):
            parked.rename(parked.with_name(parked.name.removesuffix(PARKED)))
            moved.append(f"restored {parked.name.removesuffix(PARKED)}")
    else:
        for library in sorted(lib_dir.glob("*.so")):
            if needs_cuda(library):
                library.rename(library.with_name(library.name + PARKED))
                moved.append(f"parked {library.name}")
    return moved


def main() -> int:
    """Apply the fix to the installed torchaudio and report what changed."""
    lib_dir = torchaudio_lib_dir()
    if lib_dir is None or not lib_dir.is_dir():
        print("torchaudio is not installed: nothing to do")
        return 0
    import torch  # noqa: PLC0415

    moved = fix(lib_dir, torch.version.cuda is not None)
    print("; ".join(moved) if moved else "torchaudio already matches torch")
    import torchaudio  # noqa: PLC0415, F401  (proves the result imports)

    return 0


if __name__ == "__main__":
    sys.exit(main())
