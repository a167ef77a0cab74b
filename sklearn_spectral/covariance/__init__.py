"""Robust shrinkage estimators of location and scatter, and outlier detection."""

from ._shrinkage_comedian import (
    ShrinkageComedianCovariance,
    ShrinkageMahalanobisDetector,
)

__all__ = ["ShrinkageComedianCovariance", "ShrinkageMahalanobisDetector"]
