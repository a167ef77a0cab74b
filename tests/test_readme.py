"""The Python snippets of README.md run, and every public estimator has one."""

import inspect
import re
from pathlib import Path

import pytest

import sklearn_spectral

README = Path(__file__).resolve().parents[1] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _python_blocks():
    return _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def _public_estimators():
    return sorted(
        name
        for name in sklearn_spectral.__all__
        if inspect.isclass(getattr(sklearn_spectral, name))
    )


BLOCKS = _python_blocks()


def test_readme_has_python_blocks():
    assert BLOCKS, "README.md has no ```python block"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_snippet_runs(code):
    namespace = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102


def test_every_public_estimator_has_a_snippet():
    estimators = _public_estimators()
    assert estimators, "sklearn_spectral.__all__ names no estimator class"
    missing = [
        name
        for name in estimators
        if not any(re.search(rf"\b{name}\(", code) for code in BLOCKS)
    ]
    assert not missing, f"README.md has no snippet calling {missing}"
