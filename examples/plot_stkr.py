"""
=====================================================
Semi-supervised regression on two interleaved moons
=====================================================

Two interleaved half circles carry opposite targets, so points that are close
in the plane but on different moons have very different targets. With 12
labeled rows, kernel ridge regression on the labeled rows alone blurs the two
moons together where they interleave;
:class:`~sklearn_spectral.semi_supervised.STKRRegressor` uses the 488 unlabeled
rows to learn which points lie on the same moon.
"""

import matplotlib.pyplot as plt
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import r2_score

from sklearn_spectral.datasets import hide_labels, make_manifold_regression
from sklearn_spectral.semi_supervised import STKRRegressor

X, y = make_manifold_regression(500, manifold="moons", noise=0.05, random_state=4)
y_semi, labeled = hide_labels(y, 12, random_state=4, return_mask=True)

stkr = STKRRegressor(kernel="knn", eta=0.999).fit(X, y_semi)
krr = KernelRidge(kernel="rbf", gamma=1.0, alpha=1e-2).fit(X[labeled], y[labeled])

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True, sharey=True)
r2_krr = r2_score(y[~labeled], krr.predict(X[~labeled]))
r2_stkr = r2_score(y[~labeled], stkr.predict(X[~labeled]))
panels = [
    ("true target", y),
    (f"KernelRidge, R$^2$ = {r2_krr:.2f}", krr.predict(X)),
    (f"STKRRegressor, R$^2$ = {r2_stkr:.2f}", stkr.predict(X)),
]
for ax, (title, values) in zip(axes, panels):
    ax.scatter(X[:, 0], X[:, 1], c=values, cmap="coolwarm", vmin=-1, vmax=1, s=8)
    ax.scatter(X[labeled, 0], X[labeled, 1], c="k", marker="x", s=30)
    ax.set_title(title)
fig.suptitle("12 labeled rows (crosses), R$^2$ on the unlabeled rows")
fig.tight_layout()
plt.show()
