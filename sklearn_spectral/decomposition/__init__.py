"""Outlier-robust matrix decompositions."""

__all__ = []
