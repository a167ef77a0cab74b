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

    def _set_spectrum(
        self, evals, evecs, total, mean, weights, dtype, total_weight=None
    ):
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
        total_weight : float, default=None
            Weight of the rows the moment was taken on, for
            ``singular_values_``; None uses ``weights.sum()``.
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
        if total_weight is None:
            total_weight = float(weights.sum())
        # singular values of the weighted centred rows sqrt(w_i) (x_i - m),
        # as PCA's are those of the centred rows
        sv = np.sqrt(evals * max(total_weight - 1.0, 0.0))
        self.singular_values_ = sv.astype(dtype, copy=False)

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

    def _whitening_scale(self, dtype):
        """``sqrt(explained_variance_)``, floored at the dtype's epsilon."""
        scale = np.sqrt(self.explained_variance_.astype(dtype))
        return np.maximum(scale, np.finfo(dtype).eps)

    def transform(self, X):
        """Project ``X`` on the robust components: ``(X - mean_) @ components_.T``.

        With ``whiten=True`` each coordinate is then divided by the square
        root of its ``explained_variance_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_components_`)
            Coordinates, in the dtype of ``X``.
        """
        X = self._validate_fitted_input(X)
        C = self.components_.astype(X.dtype, copy=False)
        out = X @ C.T
        out = np.asarray(out) - (self.mean_.astype(X.dtype) @ C.T)
        if self.whiten:
            out /= self._whitening_scale(out.dtype)
        return out

    def inverse_transform(self, X):
        """Map coordinates back: ``X @ components_ + mean_``.

        With ``whiten=True`` the coordinates are first multiplied by the
        square roots of ``explained_variance_``, undoing :meth:`transform`.

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
        C = self.components_.astype(X.dtype)
        if self.whiten:
            C = C * self._whitening_scale(X.dtype)[:, None]
        return X @ C + self.mean_.astype(X.dtype)

    def _model_variances(self):
        """Variances of the probabilistic-PCA model, floored for finiteness.

        A floor of ``1e-12`` times the largest variance keeps the precision
        and the likelihood finite for exact low-rank fits.
        """
        lam = self.explained_variance_.astype(np.float64)
        sig = float(self.noise_variance_)
        floor = 1e-12 * max(float(lam.max(initial=0.0)), sig, 1e-300)
        return np.maximum(lam, floor), max(sig, floor)

    def get_covariance(self):
        """Covariance of the probabilistic-PCA model of the kept rows.

        ``components_.T @ diag(explained_variance_) @ components_`` plus
        ``noise_variance_`` on the complement of the components: the model
        :meth:`score_samples` evaluates, and that of
        :meth:`sklearn.decomposition.PCA.get_covariance` (which also gives
        ``noise_variance_`` to a component of smaller variance). It is the
        covariance of the data with ``whiten=True`` too, which only changes
        the coordinates of :meth:`transform`.

        Returns
        -------
        cov : ndarray of shape (n_features, n_features)
            Estimated covariance of the inliers.
        """
        check_is_fitted(self)
        C = self.components_.astype(np.float64)
        lam = self.explained_variance_.astype(np.float64)
        sig = float(self.noise_variance_)
        cov = (C.T * (lam - sig)) @ C
        cov.flat[:: cov.shape[0] + 1] += sig
        return cov.astype(self.components_.dtype, copy=False)

    def get_precision(self):
        """Precision of the probabilistic-PCA model (inverse of the covariance).

        Computed from the eigen-decomposition of the model, with the floor on
        the variances that :meth:`score_samples` applies, so that it is
        finite for exact low-rank fits and ``score_samples`` is the Gaussian
        log-density with this precision.

        Returns
        -------
        precision : ndarray of shape (n_features, n_features)
            Estimated precision of the inliers.
        """
        check_is_fitted(self)
        C = self.components_.astype(np.float64)
        lam, sig = self._model_variances()
        if C.shape[0] < C.shape[1]:
            prec = (C.T * (1.0 / lam - 1.0 / sig)) @ C
            prec.flat[:: prec.shape[0] + 1] += 1.0 / sig
        else:
            # every direction is a component: no noise term to cancel
            prec = (C.T / lam) @ C
        return prec.astype(self.components_.dtype, copy=False)

    def score_samples(self, X):
        """Probabilistic-PCA log-likelihood of each row (higher = more normal).

        The model of :meth:`sklearn.decomposition.PCA.score_samples`, with the
        robust ``components_``, ``explained_variance_`` and
        ``noise_variance_``: the Gaussian log-density with mean ``mean_`` and
        precision :meth:`get_precision`.

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
        k = C.shape[0]
        lam_eff, sig_eff = self._model_variances()
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
