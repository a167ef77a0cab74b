"""The state RobustPCA.partial_fit keeps between calls."""

import math

import numpy as np
from scipy import linalg

from ._robust_filters import _FilterStack

# Rank of the incremental SVD that replaces S2 in low-rank streaming:
# n_components plus this many, so that the truncation error stays off the
# components.
_STREAM_EXTRA_RANK = 10


def _truncated_svd(A, k):
    """Top ``k + _STREAM_EXTRA_RANK`` singular values and right vectors of ``A``.

    For a wide ``A`` (m <= d, the streaming case) the left vectors come from
    the ``m x m`` Gram matrix (one SYRK, ``m**2 d``), and the small ``r x d``
    block ``U^T A`` is then decomposed exactly; no ``d x d`` or full ``m x d``
    factorisation is formed.
    """
    m, d = A.shape
    r = min(k + _STREAM_EXTRA_RANK, m, d)
    if m <= d:
        G = A @ A.T
        _, U = linalg.eigh(0.5 * (G + G.T), subset_by_index=[m - r, m - 1])
        A = U.T @ A
    _, sv, Vt = linalg.svd(A, full_matrices=False, check_finite=False)
    return sv[:r].copy(), np.ascontiguousarray(Vt[:r])


class _StreamState:
    """What ``partial_fit`` keeps between calls.

    Rows are buffered until a batch of ``batch_rows`` rows is complete. The
    moments describe the weighted rows of the batches since the last restart,
    shifted by ``shift``: ``S1`` and ``W`` always, plus either the dense
    second moment ``S2`` or, when ``low_rank``, the rank-``r`` factorisation
    ``Vt^T diag(sv**2) Vt`` of the weighted scatter and its exact trace
    ``trC``.

    Attributes
    ----------
    rng : RandomState
        Drawn from ``random_state`` at the first call; every batch draws from
        it.
    filters : list of tuple (Zt, mean, thr, tau_max)
        The filter rounds learnt so far: sketch ``Zt`` (b, d), the mean the
        rows were centred on, threshold and largest score. New rows are
        weighted by all of them (:meth:`weights_under_filters`).
    batch_rows : int
        Rows a batch holds at least.
    buffer : ndarray of shape (size, d) or None
        Rows waiting for the next batch in ``buffer[:n_buffered]``; grown
        geometrically, never beyond ``batch_rows`` rows.
    n_buffered : int
        Rows waiting in ``buffer``.
    provisional_rows : int
        Rows of the last provisional fit (before the first batch is
        complete); 0 once it is.
    started : bool
        Whether the first complete batch has been processed.
    low_rank : bool
        Whether the moments are a truncated incremental SVD (the matrix-free
        solver) rather than the dense ``S2``.
    shift : ndarray of shape (d,)
        Shift of the rows the moments are taken on.
    v0 : ndarray of shape (d,)
        Start vector of the eigensolver of the dense moments.
    S1 : ndarray of shape (d,)
        Weighted sum of the shifted rows.
    W : float
        Total weight.
    S2 : ndarray of shape (d, d) or None
        Weighted sum of the shifted rows' outer products (dense only).
    sv, Vt : ndarray of shape (r,) and (r, d), or None
        Singular values and right vectors of the weighted scatter (low rank
        only).
    trC : float or None
        Trace of the weighted scatter (low rank only).
    R1 : ndarray of shape (d,)
        Weighted sum of the original rows (with ``center='pairs'``, each row
        weighted by its pair's weight), for ``mean_``.
    RW : float
        Total weight of ``R1``.
    """

    def __init__(self, rng, batch_rows, low_rank):
        self.rng = rng
        self.filters = []
        self.batch_rows = batch_rows
        self.buffer = None
        self.n_buffered = 0
        self.provisional_rows = 0
        self.started = False
        self.low_rank = low_rank
        self.shift = self.v0 = self.S1 = self.W = None
        self.S2 = self.sv = self.Vt = self.trC = None
        self.R1 = self.RW = None
        # the stored rounds as one _FilterStack, and what it was built from
        self._stack = None
        self._stack_key = None

    def buffered(self):
        """The rows waiting for the next batch (a view)."""
        return self.buffer[: self.n_buffered]

    def append(self, X):
        """Append rows to the buffer, grown geometrically up to batch_rows."""
        nb, n = self.n_buffered, X.shape[0]
        buf = self.buffer
        dtype = X.dtype if buf is None else np.result_type(buf.dtype, X.dtype)
        if buf is None or buf.shape[0] < nb + n or buf.dtype != dtype:
            size = nb + n if buf is None else max(nb + n, 2 * buf.shape[0])
            size = min(max(size, 64), self.batch_rows)
            new = np.empty((size, X.shape[1]), dtype=dtype)
            if nb:
                new[:nb] = buf[:nb]
            self.buffer = buf = new
        buf[nb : nb + n] = X
        self.n_buffered = nb + n

    def weights_under_filters(self, Xs):
        """Weights of shifted rows ``Xs`` under every stored filter round.

        The rounds' stack is built once and rebuilt only when rounds were
        added or the shift changed (at a restart), not for every batch.
        """
        key = (len(self.filters), self.shift)
        if self._stack_key is None or (
            self._stack_key[0] != key[0] or self._stack_key[1] is not key[1]
        ):
            self._stack = _FilterStack(self.filters, self.shift)
            self._stack_key = key  # holds the shift, so identity stays meaningful
        return self._stack.weights(Xs)

    def low_rank_merge(self, Xs, w, centered, k):
        """Incremental SVD: the stream's rank-r scatter plus weighted rows.

        The weighted scatter ``C = sum_i w_i (x_i - m)(x_i - m)^T`` (``m = 0``
        unless centred) is kept as ``Vt^T diag(sv**2) Vt`` with ``r = k + 10``
        rows, plus its exact trace. Adding rows with weights ``w`` (mean
        ``m_b``, weight ``W_b``) stacks ``diag(sv) Vt``, the rows
        ``sqrt(w_i) (x_i - m_b)`` and ``sqrt(W W_b / (W + W_b)) (m - m_b)``
        and truncates their thin SVD, as IncrementalPCA does; no ``d x d``
        array is formed.

        Returns
        -------
        new : dict
            The tentative ``S1``, ``W``, ``sv``, ``Vt`` and ``trC``; the state
            is not changed.
        """
        keep = w > 0
        Y = Xs[keep]
        wk = w[keep]
        Wb = float(wk.sum())
        out = dict(S1=self.S1 + wk @ Y, W=self.W + Wb)
        if Wb <= 0:
            out.update(sv=self.sv, Vt=self.Vt, trC=self.trC)
            return out
        blocks = [self.sv[:, None] * self.Vt]
        # Y is a copy (boolean indexing): centre and scale it in place
        if centered:
            mb = (wk @ Y) / Wb
            Y -= mb
            Y *= np.sqrt(wk)[:, None]
            extra = math.sqrt(self.W * Wb / out["W"]) * (self.S1 / self.W - mb)
            blocks += [Y, extra[None, :]]
            trC = self.trC + float(np.einsum("ij,ij->", Y, Y)) + float(extra @ extra)
        else:
            Y *= np.sqrt(wk)[:, None]
            blocks.append(Y)
            trC = self.trC + float(np.einsum("ij,ij->", Y, Y))
        del Y
        sv, Vt = _truncated_svd(np.vstack(blocks), k)
        out.update(sv=sv, Vt=Vt, trC=trC)
        return out

    def commit(self, new):
        """Take the tentative moments ``new`` (field name to value)."""
        for name, value in new.items():
            setattr(self, name, value)
