"""`strategylab warm-indicators` fills numba's kernel cache, which sandboxed runs only read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = (
    "import sys; sys.argv = ['strategylab', 'warm-indicators']; from app.cli import main; main()"
)


def test_warm_indicators_compiles_and_saves_every_kernel(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    done = subprocess.run(
        [sys.executable, "-c", COMMAND],
        cwd=ROOT,
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "numba kernels are cached" in done.stdout
    assert done.stderr == ""  # no indicator failed
    saved = {path.name.split(".")[0] for path in cache.rglob("*.nbi")}  # e.g. "roc.nb_roc-12..."
    assert {"sma", "wma", "roc", "exhc"} <= saved, sorted(saved)
