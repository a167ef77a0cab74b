"""Run the Examples sections of every module's docstrings as doctests."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import sklearn_spectral


def _modules():
    names = ["sklearn_spectral"]
    for info in pkgutil.walk_packages(
        sklearn_spectral.__path__, prefix="sklearn_spectral."
    ):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    tests = [t for t in finder.find(module, module_name) if t.examples]
    with np.printoptions(legacy="1.25"):
        for t in tests:
            runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"
