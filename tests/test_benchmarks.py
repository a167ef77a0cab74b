"""Run every ``benchmarks/bench_*.py`` at its small size so the scripts never rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCH_DIR.glob("bench_*.py"))


@pytest.mark.parametrize(
    "script", SCRIPTS or [None], ids=[p.stem for p in SCRIPTS] or ["no-scripts"]
)
def test_benchmark_script_runs(script, tmp_path):
    if script is None:
        pytest.skip(f"no benchmarks/bench_*.py scripts in {BENCH_DIR} yet")
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [
            sys.executable,
            script.name,
            "--size",
            "small",
            "--repeats",
            "1",
            "--output",
            str(tmp_path),
        ],
        cwd=BENCH_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    results = sorted(tmp_path.glob("*.json"))
    assert results, f"{script.name} wrote no JSON result to {tmp_path}"
    for path in results:
        payload = json.loads(path.read_text())
        assert payload["rows"], f"{path.name} has no rows"
        assert "metadata" in payload
