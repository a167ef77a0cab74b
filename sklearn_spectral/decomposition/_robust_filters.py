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

from ._robust_pca_kernels import apply_stored_filters

# Each round's sketch keeps the leading singular directions that hold this
# share of its squared Frobenius norm; a score then loses at most 1e-4 of
# the sketch's weight. Power-iterated sketches concentrate on a few leading
# directions: at 3e5 x 100 with outliers along 4 directions the 6 rounds
# keep 27 of their 96 columns, and their weights move by at most 1e-5.
_SKETCH_ENERGY = 1.0 - 1e-4


def _compressed_sketch(Z):
    """``U_r diag(s_r)`` (d, r): the leading part of the sketch ``Z`` (d, b).

    ``||Z^T x||`` equals ``||diag(s) U^T x||`` for every ``x``, so the scores
    only need the singular directions that carry the sketch's weight.
    """
    U, sv, _ = linalg.svd(Z, full_matrices=False, check_finite=False)
    energy = np.cumsum(sv**2)
    if not energy[-1] > 0:
        return Z[:, :1] * 0.0
    r = int(np.searchsorted(energy, _SKETCH_ENERGY * energy[-1])) + 1
    r = min(r, sv.size)
    return U[:, :r] * sv[:r]


class _FilterStack:
    """The product of several filter rounds, evaluated with one product.

    Each round's sketch is cut to the singular directions that carry its
    weight (power-iterated sketches concentrate on a few), and the cut
    sketches of all rounds sit side by side, so that one float32 product of
    the rows gives every round's scores.

    Parameters
    ----------
    filters : list of tuple (Zt, mean, thr, tau_max)
        Filter rounds in the order they were learnt: sketch ``Zt`` (b, d),
        the mean the scored rows were centred on, threshold and largest
        score.
    shift : ndarray of shape (d,)
        Shift of the rows that :meth:`weights` receives.
    """

    def __init__(self, filters, shift):
        d = shift.shape[0]
        Zs = [
            _compressed_sketch(np.asarray(Zt, dtype=np.float64).T)
            for Zt, _, _, _ in filters
        ]
        self.sketches = (
            np.hstack(Zs).astype(np.float32) if Zs else np.zeros((d, 0), np.float32)
        )
        self.offsets = np.array(
            [
                v
                for Z, (_, mean, _, _) in zip(Zs, filters)
                for v in (np.asarray(mean, dtype=np.float64) - shift) @ Z
            ],
            dtype=np.float32,
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
        T = np.asarray(Xs @ self.sketches, dtype=np.float32, order="C")
        T -= self.offsets
        # one thread: a light pass, run once per block of rows between BLAS
        # products, where waking OpenMP threads costs more than it saves
        apply_stored_filters(T, self.bounds, self.thr, self.tau_max, w, 1)
        np.clip(w, 0.0, 1.0, out=w)
        return w
