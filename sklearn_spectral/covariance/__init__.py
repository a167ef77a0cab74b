"""Robust shrinkage estimators of location and scatter, and outlier detection."""

__all__ = []
