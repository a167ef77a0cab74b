"""Shared fixtures for the sklearn_spectral test suite."""

import numpy as np
import pytest

from sklearn_spectral.utils._testing import random_weighted_graph


@pytest.fixture
def rng():
    """A fresh seeded generator for a test."""
    return np.random.default_rng(0)


@pytest.fixture
def weighted_graph():
    """A 300-vertex symmetric weighted graph without self-loops."""
    return random_weighted_graph(300, 0.03, 0)
