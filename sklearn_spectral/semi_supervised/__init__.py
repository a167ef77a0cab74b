"""Semi-supervised learning with spectrally transformed kernels."""

__all__ = []
