"""Robust shrinkage estimators of location and scatter, and outlier detection."""

from ._mahalanobis_detector import ShrinkageMahalanobisDetector
from ._shrinkage_comedian import ShrinkageComedianCovariance

__all__ = ["ShrinkageComedianCovariance", "ShrinkageMahalanobisDetector"]
