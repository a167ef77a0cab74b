"""Spectral clustering of graphs and SDP clustering."""

from ._amg_spectral import AMGSpectralClustering

__all__ = ["AMGSpectralClustering"]
