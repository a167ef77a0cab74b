"""What a fitted RobustPCA does with its components, whichever way it was fitted."""

import math

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import check_is_fitted, validate_data


class _BaseRobustPCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Transform, inverse transform and likelihood of a fitted robust PCA.

    Subclasses fit ``components_``, ``explained_variance_``,
    ``noise_variance_`` and ``mean_`` (batch or streaming) through
    :meth:`_set_spectrum` once ``n_components_`` is set; everything here reads
    only those attributes.
    """

    def _set_spectrum(self, evals, evecs, total, mean, weights, dtype):
        """Set the fitted attributes from weighted eigenpairs.

        Parameters
        ----------
        evals : ndarray of shape (k,)
            Eigenvalues of the weighted moment, decreasing; negative rounding
            errors are clipped to 0.
        evecs : ndarray of shape (d, k)
            Their eigenvectors. The signs of ``components_`` follow PCA's
            rule: ``svd_flip`` with ``u_based_decision=False`` makes the
            largest absolute entry of each component positive.
        total : float
            Trace of the weighted moment.
        mean : ndarray of shape (d,)
            The fitted mean.
        weights : ndarray of shape (n,)
            Weights of the rows.
        dtype : dtype
            Dtype of the fitted arrays (that of ``X``).
        """
        evals = np.clip(evals, 0.0, None)
        k, d = self.n_components_, evecs.shape[0]
        # svd_flip changes its argument: give it a copy of the eigenvectors
        _, comps = svd_flip(None, np.array(evecs.T), u_based_decision=False)
        self.components_ = comps.astype(dtype, copy=False)
        self.explained_variance_ = evals.astype(dtype, copy=False)
        ratio = evals / total if total > 0 else np.zeros_like(evals)
        self.explained_variance_ratio_ = ratio.astype(dtype, copy=False)
        noise = (total - evals.sum()) / (d - k) if k < d else 0.0
        self.noise_variance_ = float(max(noise, 0.0))
        self.mean_ = np.asarray(mean, dtype=dtype)
        self.weights_ = weights.astype(dtype, copy=False)
        self.support_ = weights >= 0.5

    def _print_progress(self, message):
        """Print a verbose progress line, prefixed with the estimator's name."""
        print(f"[{type(self).__name__}] {message}")

    def _validate_fitted_input(self, X):
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            reset=False,
        )

    def transform(self, X):
        """Project ``X`` on the robust components: ``(X - mean_) @ components_.T``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_components_`)
            Coordinates, in the dtype of the fitted attributes.
        """
        X = self._validate_fitted_input(X)
        C = self.components_.astype(X.dtype, copy=False)
        out = X @ C.T
        out = np.asarray(out) - (self.mean_.astype(X.dtype) @ C.T)
        return out

    def inverse_transform(self, X):
        """Map coordinates back: ``X @ components_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_components_`)
            Coordinates.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Points in the span of the components, shifted by ``mean_``.
        """
        check_is_fitted(self)
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return X @ self.components_.astype(X.dtype) + self.mean_.astype(X.dtype)

    def score_samples(self, X):
        """Probabilistic-PCA log-likelihood of each row (higher = more normal).

        The model of :meth:`sklearn.decomposition.PCA.score_samples`, with the
        robust ``components_``, ``explained_variance_`` and
        ``noise_variance_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        ll : ndarray of shape (n_samples,)
            Log-likelihood of each row.
        """
        X = self._validate_fitted_input(X)
        d = X.shape[1]
        C = self.components_.astype(np.float64)
        lam = self.explained_variance_.astype(np.float64)
        sig = float(self.noise_variance_)
        k = C.shape[0]
        # a floor on the variances keeps the likelihood finite for exact
        # low-rank fits
        floor = 1e-12 * max(float(lam.max(initial=0.0)), sig, 1e-300)
        sig_eff = max(sig, floor)
        lam_eff = np.maximum(lam, floor)
        mean = self.mean_.astype(np.float64)
        if sparse.issparse(X):
            P = np.asarray(X @ C.T) - mean @ C.T
            sq = (
                np.asarray(X.multiply(X).sum(axis=1)).ravel()
                - 2.0 * np.asarray(X @ mean).ravel()
                + mean @ mean
            )
        else:
            Xc = np.asarray(X, dtype=np.float64) - mean
            P = Xc @ C.T
            sq = np.einsum("ij,ij->i", Xc, Xc)
        proj_sq = np.einsum("ij,ij->i", P, P)
        quad = (P * P) @ (1.0 / lam_eff)
        if k < d:
            quad += np.maximum(sq - proj_sq, 0.0) / sig_eff
        logdet = np.log(lam_eff).sum() + (d - k) * math.log(sig_eff)
        return -0.5 * (d * math.log(2.0 * math.pi) + logdet + quad)

    def score(self, X, y=None):
        """Mean probabilistic-PCA log-likelihood of the rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        ll : float
            Average of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]
