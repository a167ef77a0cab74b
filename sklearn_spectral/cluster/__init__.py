"""Spectral clustering of graphs and SDP clustering."""

from ._amg_spectral import AMGSpectralClustering
from ._sdp_gaussian_mixture import SDPGaussianMixture
from ._sdp_kmeans import SDPKMeans

__all__ = ["AMGSpectralClustering", "SDPGaussianMixture", "SDPKMeans"]
