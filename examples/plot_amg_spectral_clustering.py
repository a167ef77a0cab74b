"""
======================================================================
Spectral clustering by bootstrap AMG: an image and an attributed graph
======================================================================

:class:`~sklearn_spectral.cluster.AMGSpectralClustering` clusters the vertices
of a graph with K-means on the algebraically smooth vectors of a bootstrap
algebraic multigrid solver for its Laplacian, built in time linear in the
number of edges. Categorical vertex attributes join as extra vertices.

Two uses: segmenting the coins image (scikit-image; a synthetic image of
disks when scikit-image is not installed) through its pixel graph, and an
attributed stochastic block model clustered with and without its
attributes.
"""

# %%
# Pixel graph of an image
# -----------------------
# Edge weights ``exp(-10 g / std(g)) + 1e-6`` for the intensity gradient
# ``g``, as in scikit-learn's coins example. The weighted Laplacian
# (``weighted=True``) lets the smooth vectors follow the weak edges at the
# objects' boundaries.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.image import img_to_graph
from sklearn.metrics import adjusted_rand_score

from sklearn_spectral.cluster import AMGSpectralClustering
from sklearn_spectral.datasets import make_attributed_sbm

try:
    from skimage.data import coins
    from skimage.transform import rescale

    image = rescale(coins() / 255.0, 0.2, anti_aliasing=True)
    n_segments = 25
except ImportError:
    yy, xx = np.mgrid[:60, :80]
    image = np.zeros((60, 80))
    for cy, cx in [(15, 20), (15, 60), (45, 20), (45, 60)]:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < 100] = 1.0
    image += 0.05 * np.random.RandomState(0).randn(*image.shape)
    n_segments = 5

graph = img_to_graph(image)
graph.data = np.exp(-10 * graph.data / graph.data.std()) + 1e-6

t0 = time.perf_counter()
model = AMGSpectralClustering(
    n_segments, affinity="precomputed", random_state=0
).fit(graph)
print(
    f"{image.size} pixels, {n_segments} segments: {time.perf_counter() - t0:.2f} s, "
    f"{model.n_hierarchies_} hierarchies, modularity {model.modularity_:.3f}"
)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
axes[0].imshow(image, cmap="gray")
axes[0].set_title("image")
axes[1].imshow(image, cmap="gray")
axes[1].contour(model.labels_.reshape(image.shape), levels=np.arange(n_segments),
                colors="r", linewidths=0.5)
axes[1].set_title("AMGSpectralClustering segments")
for ax in axes:
    ax.set_axis_off()

# %%
# An attributed block model
# -------------------------
# 5 blocks, mean degree 5, mixing just past the detectability threshold: the
# structure alone is ambiguous. One categorical attribute that agrees with
# the block 90% of the time lets K-means separate the blocks.
A, y, attributes = make_attributed_sbm(
    400, 5, mean_degree=5, mixing=0.47, alpha=0.9, random_state=0
)
results = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # small SBMs may be disconnected
    for name, attrs in [("structure only", None), ("with attributes", attributes)]:
        est = AMGSpectralClustering(5, affinity="precomputed", random_state=0)
        est.fit(A, attributes=attrs)
        results[name] = est
        print(f"{name:<16} ARI {adjusted_rand_score(y, est.labels_):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
for ax, (name, est) in zip(axes, results.items()):
    ax.scatter(est.embedding_[:, 1], est.embedding_[:, 2], c=est.labels_, s=8,
               cmap="tab10")
    ax.set_title(f"{name}: ARI {adjusted_rand_score(y, est.labels_):.2f}")
    ax.set_xlabel("embedding 1")
    ax.set_ylabel("embedding 2")
plt.tight_layout()
plt.show()
