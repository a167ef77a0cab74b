"""Semi-supervised learning with spectrally transformed kernels."""

from ._stkr import STKRClassifier, STKRRegressor

__all__ = ["STKRClassifier", "STKRRegressor"]
