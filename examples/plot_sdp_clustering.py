"""
==========================================
Clustering by semidefinite programming
==========================================

:class:`~sklearn_spectral.cluster.SDPKMeans` solves the Peng-Wei convex
relaxation of K-means instead of running Lloyd's algorithm from random
seeds; above the exact-recovery separation its solution is the planted
partition itself. :class:`~sklearn_spectral.cluster.SDPGaussianMixture`
adjusts the relaxation by the likelihood of one Gaussian per cluster, so it
can separate clusters that share a centre but differ in spread, where any
K-means method fails.
"""

# %%
# Three spherical clusters, and two with the same centre
# -------------------------------------------------------

import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from sklearn_spectral.cluster import SDPGaussianMixture, SDPKMeans
from sklearn_spectral.datasets import make_heterogeneous_mixture

X1, y1 = make_heterogeneous_mixture(
    150, n_features=2, n_clusters=3, separation=1.2, random_state=0
)
sdp = SDPKMeans(n_clusters=3, random_state=0).fit(X1)
# The relaxation's value bounds the inertia of every partition from below; at
# exact recovery the two agree up to the solver tolerance.
print(f"SDPKMeans ARI {adjusted_rand_score(y1, sdp.labels_):.2f}, "
      f"objective {sdp.objective_:.1f}, inertia {sdp.inertia_:.1f}")

X2, y2 = make_heterogeneous_mixture(
    200, n_clusters=2, design="equal_means", random_state=0
)
km = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(X2)
gm = SDPGaussianMixture(n_components=2, random_state=0).fit(X2)
print(f"equal means: KMeans ARI {adjusted_rand_score(y2, km):.2f}, "
      f"SDPGaussianMixture ARI {adjusted_rand_score(y2, gm.labels_):.2f}")

# %%
# The partitions
# --------------
# Right: the first two coordinates of the 10-dimensional equal-means data;
# the broad and the tight cluster overlap in the middle, and K-means can only
# cut them by a hyperplane.
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].scatter(X1[:, 0], X1[:, 1], c=sdp.labels_, s=12, cmap="viridis")
axes[0].scatter(*sdp.cluster_centers_.T, c="red", marker="x", s=80)
axes[0].set_title("SDPKMeans")
axes[1].scatter(X2[:, 0], X2[:, 1], c=km, s=12, cmap="coolwarm")
axes[1].set_title("KMeans, equal means")
axes[2].scatter(X2[:, 0], X2[:, 1], c=gm.labels_, s=12, cmap="coolwarm")
axes[2].set_title("SDPGaussianMixture, equal means")
fig.tight_layout()
plt.show()
