"""The tour (README's main job) and the gallery examples must keep running."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GALLERY = sorted(p.name for p in EXAMPLES.glob("plot_*.py"))


def _run(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=tmp_path,  # outside the source tree, which would shadow the install
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_tour_runs(tmp_path):
    out = _run("tour.py", tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "sklearn_spectral" in out.stdout
    assert "modularity" in out.stdout.lower()


@pytest.mark.slow
@pytest.mark.parametrize("script", GALLERY or ["<none>"])
def test_gallery_example_runs(script, tmp_path):
    if script == "<none>":
        pytest.skip("no examples/plot_*.py yet")
    out = _run(script, tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
