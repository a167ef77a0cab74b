"""
==========================================
Robust PCA against PCA on corrupted rows
==========================================

A few percent of corrupted rows are enough to take PCA's top component:
outliers placed along a direction ``w`` that the inliers barely use add
variance there, and PCA follows it. :class:`~sklearn_spectral.decomposition.RobustPCA`
down-weights the rows that carry an abnormal share of the variance along the
top directions until a tail test certifies the result, at about the cost of
one PCA.

Two data sets: a spiked Gaussian with "stealth" outliers (their norms look
like the inliers'), and colour patches of one of scikit-learn's bundled
sample images with the same kind of outliers injected.
"""

# %%
# Gaussian inliers, stealth outliers
# ----------------------------------
# 2000 rows in dimension 50, 10% of them outliers that add twice the top
# eigenvalue of variance along ``w``. The captured variance ``u^T Sigma u /
# lambda_1`` of the true covariance measures how good a direction is
# (1 = the true top component).
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.datasets import load_sample_images
from sklearn.decomposition import PCA
from sklearn.feature_extraction.image import extract_patches_2d

from sklearn_spectral.datasets import make_contaminated_gaussian
from sklearn_spectral.decomposition import RobustPCA

X, is_outlier, params = make_contaminated_gaussian(
    2000, 50, contamination=0.1, outlier_kind="stealth", return_params=True,
    random_state=0,
)
sigma, lam1 = params["covariance"], params["eigenvalues"][0]
u, w = params["components"][0], params["outlier_directions"][0]

pca = PCA(n_components=1).fit(X)
rpca = RobustPCA(n_components=1, contamination=0.1, random_state=0).fit(X)
for name, est in [("PCA", pca), ("RobustPCA", rpca)]:
    v = est.components_[0]
    print(f"{name:<10} captured variance {v @ sigma @ v / lam1:.3f}")
print(
    f"RobustPCA: {rpca.n_iter_ - 1} filter round(s), certified={rpca.certified_}, "
    f"mean weight of outliers {rpca.weights_[is_outlier].mean():.3f}, "
    f"of inliers {rpca.weights_[~is_outlier].mean():.3f}"
)

# %%
# In the plane spanned by the true component ``u`` and the outlier direction
# ``w``, PCA's direction points at the outliers; RobustPCA's lies along ``u``.
# Colour is the final weight of each row.
fig, ax = plt.subplots(figsize=(6, 5))
coords = (X - rpca.mean_) @ np.column_stack([u, w])
sc = ax.scatter(coords[:, 0], coords[:, 1], c=rpca.weights_, s=4, cmap="viridis")
for name, est, color in [("PCA", pca, "tab:red"), ("RobustPCA", rpca, "k")]:
    d = est.components_[0] @ np.column_stack([u, w])
    d *= 8.0 / np.linalg.norm(d)
    ax.plot([-d[0], d[0]], [-d[1], d[1]], color=color, lw=2.5, label=name)
ax.set_xlabel("true top component u")
ax.set_ylabel("outlier direction w")
ax.legend(loc="upper right")
fig.colorbar(sc, ax=ax, label="RobustPCA weight")
ax.set_title("Stealth outliers (10%): top direction found")

# %%
# Image patches with injected outliers
# ------------------------------------
# 10000 colour patches of 8 x 8 pixels (d = 192) from the flower image. The
# reference is PCA of the clean patches. 10% of the patches are replaced by
# stealth outliers built from clean patches: projected off a direction ``w``
# orthogonal to the clean top components, and put at ``+-t`` along it.
image = load_sample_images().images[1].astype(np.float64) / 255.0
patches = extract_patches_2d(image, (8, 8), max_patches=10000, random_state=0)
P = patches.reshape(len(patches), -1)
clean = PCA(n_components=4).fit(P)
lam = clean.explained_variance_

rng = np.random.default_rng(0)
eps = 0.1
n_out = int(eps * len(P))
w_img = rng.standard_normal(P.shape[1])
w_img -= clean.components_.T @ (clean.components_ @ w_img)
w_img /= np.linalg.norm(w_img)
rows = rng.choice(len(P), n_out, replace=False)
t = np.sqrt(2.0 * lam[0] / eps)
Xp = P.copy()
off = Xp[rows] - clean.mean_
off -= np.outer(off @ w_img, w_img)
signs = np.where(np.arange(n_out) % 2 == 0, 1.0, -1.0)
Xp[rows] = clean.mean_ + off + np.outer(signs * t, w_img)

# %%
# Image patches are far from Gaussian (heavy tails), so the
# Gaussian-calibrated tail test would trim clean patches too. Two settings
# handle that here: ``contamination`` is an upper bound, given with a margin
# (0.2 for 10% outliers), and ``components_strategy='final_weights'``
# certifies the first component only and takes the others from the final
# weights. The later components then fail the Gaussian tail test on the
# clean heavy tail, which RobustPCA reports as a warning (printed below).
# With ``contamination=0.1`` and ``'deflation'`` the filter trims the clean
# tail until it has removed twice ``contamination`` of the weight, more than
# all the outliers, and then stops without a certificate and says why.
t0 = time.perf_counter()
pca_img = PCA(n_components=4).fit(Xp)
t_pca = time.perf_counter() - t0
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    rpca_img = RobustPCA(
        n_components=4, contamination=0.2, components_strategy="final_weights",
        random_state=0,
    ).fit(Xp)
t_rpca = time.perf_counter() - t0
for warning in caught:
    print("warning:", warning.message)

is_out_img = np.zeros(len(P), dtype=bool)
is_out_img[rows] = True
for name, est, secs in [("PCA", pca_img, t_pca), ("RobustPCA", rpca_img, t_rpca)]:
    angles = subspace_angles(est.components_[:1].T, clean.components_[:1].T)
    angle = np.degrees(angles[0])
    print(
        f"{name:<10} angle of component 1 to the clean one: {angle:5.1f} deg  "
        f"({secs:.2f} s)"
    )
print(
    f"RobustPCA: certified={rpca_img.certified_}, outlier weight "
    f"{rpca_img.weights_[is_out_img].mean():.3f}, clean weight "
    f"{rpca_img.weights_[~is_out_img].mean():.3f}"
)

# %%
# The top four components as 8 x 8 colour patches: PCA on the corrupted
# patches spends its first component on the outlier direction (noise);
# RobustPCA's components match the clean ones (up to sign).
fig, axes = plt.subplots(3, 4, figsize=(7, 5.5))
for row, (name, comps) in enumerate(
    [
        ("clean PCA", clean.components_),
        ("PCA", pca_img.components_),
        ("RobustPCA", rpca_img.components_),
    ]
):
    for j in range(4):
        c = comps[j].reshape(8, 8, 3)
        c = (c - c.min()) / (c.max() - c.min() + 1e-12)
        axes[row, j].imshow(c, interpolation="nearest")
        axes[row, j].set_xticks([])
        axes[row, j].set_yticks([])
        if j == 0:
            axes[row, j].set_ylabel(name)
fig.suptitle("Top components of 8x8 colour patches, 10% outliers")
plt.tight_layout()
plt.show()
