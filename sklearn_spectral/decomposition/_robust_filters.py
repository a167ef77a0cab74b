"""Filter rounds learnt on some rows, applied to other rows, for RobustPCA.

A filter round keeps its sketch ``Z`` (d, b), the mean the rows were centred
on, its threshold and its largest score; a row's weight under the rounds is
the product of their soft-filter factors. Learning the rounds on a sample of
the rows and applying them to all rows (:class:`_FilterStack`) replaces a
pass over ``X`` per round by one pass in all; ``partial_fit`` applies the
rounds of earlier batches to each new batch the same way.
"""

import numpy as np
from scipy import linalg

from ..utils._threading import _openmp_effective_n_threads
from ._robust_pca_kernels import apply_stored_filters

# Singular values of the stacked sketches below this fraction of the largest
# are dropped: on the heavy-tailed benchmark data (12 rounds) the weights then
# move by at most 3e-5, and the rank falls from 57 to 14.
_STACK_RTOL = 1e-4


class _FilterStack:
    """The product of several filter rounds, evaluated with one product.

    The power-iterated sketches of a fit concentrate on a few leading
    directions, so their stacked columns have a small numerical rank ``r``:
    each row is multiplied once by an orthonormal basis ``Q`` (d, r) of their
    span, and each round's scores follow from that ``r``-vector. When the
    span is not small enough to pay, the rows meet each sketch directly.

    Parameters
    ----------
    filters : list of tuple (Zt, mean, thr, tau_max)
        Filter rounds in the order they were learnt: sketch ``Zt`` (b, d) with
        unit Frobenius norm, the mean the scored rows were centred on,
        threshold and largest score.
    shift : ndarray of shape (d,)
        Shift of the rows that :meth:`weights` receives.
    """

    def __init__(self, filters, shift):
        Zs = [np.asarray(Zt, dtype=np.float64).T for Zt, _, _, _ in filters]
        d = shift.shape[0]
        basis = None
        if Zs:
            stacked = np.hstack(Zs)
            U, sv, _ = linalg.svd(stacked, full_matrices=False, check_finite=False)
            r = max(1, int(np.count_nonzero(sv > _STACK_RTOL * sv[0])))
            b_total = stacked.shape[1]
            # multiply-adds per row: d r + sum_t r b_t (the small products
            # counted twice: they run far below the speed of one large one)
            # against d sum_t b_t
            if d * r + 2 * r * b_total < d * b_total:
                basis = U[:, :r]
        self.basis = None if basis is None else basis.astype(np.float32)
        # every round's sketch, side by side: one product gives all scores
        sketches = [Z if basis is None else basis.T @ Z for Z in Zs]
        self.sketches = (
            np.hstack(sketches).astype(np.float32) if Zs else np.zeros((d, 0))
        )
        self.offsets = (
            np.concatenate(
                [
                    (np.asarray(mean, dtype=np.float64) - shift) @ Z
                    for Z, (_, mean, _, _) in zip(Zs, filters)
                ]
            ).astype(np.float32)
            if Zs
            else np.zeros(0)
        )
        widths = [Z.shape[1] for Z in Zs]
        self.bounds = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
        self.thr = np.array([thr for _, _, thr, _ in filters], dtype=np.float64)
        self.tau_max = np.array([tm for _, _, _, tm in filters], dtype=np.float64)

    def weights(self, Xs):
        """Weights in [0, 1] of the shifted rows ``Xs`` under every round.

        The products run in float32 (half the time of float64 products); the
        scores then carry relative errors of about 1e-7, far below what moves
        a soft-filter weight.

        Parameters
        ----------
        Xs : {ndarray, sparse matrix} of shape (n, d)
            Rows minus ``shift``.

        Returns
        -------
        w : ndarray of shape (n,)
        """
        w = np.ones(Xs.shape[0])
        if not self.thr.size:
            return w
        Xs = Xs.astype(np.float32, copy=False)
        P = Xs @ self.basis if self.basis is not None else Xs
        T = np.asarray(P @ self.sketches, dtype=np.float32, order="C")
        T -= self.offsets
        apply_stored_filters(
            T, self.bounds, self.thr, self.tau_max, w, _openmp_effective_n_threads()
        )
        np.clip(w, 0.0, 1.0, out=w)
        return w
