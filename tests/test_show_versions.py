import re

from sklearn_spectral import __version__, show_versions
from sklearn_spectral.utils import _openmp_parallelism_enabled


def test_show_versions(capsys):
    show_versions()
    out = capsys.readouterr().out
    assert re.search(rf"sklearn_spectral: {re.escape(__version__)}", out)
    for dist in ("numpy", "scipy", "scikit-learn", "threadpoolctl", "joblib"):
        assert re.search(rf"{dist}: \d+\.\d+", out), dist
    assert f"Built with OpenMP: {_openmp_parallelism_enabled()}" in out
    assert "user_api: blas" in out
