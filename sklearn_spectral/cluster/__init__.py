"""Spectral clustering of graphs and SDP clustering."""

__all__ = []
