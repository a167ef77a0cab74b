import numpy as np
import pytest

from sklearn_spectral.utils.validation import check_integer_codes, check_min_samples


def test_check_min_samples():
    check_min_samples(5, 5)
    expected = r"Est: got n_samples=4; at least 5 .* for k=5"
    with pytest.raises(ValueError, match=expected):
        check_min_samples(4, 5, estimator_name="Est", reason="for k=5")


def test_check_integer_codes():
    out = check_integer_codes([1.0, 2.0, -1.0], 3)
    assert out.dtype == np.int64 and out.shape == (3, 1)
    codes = np.array([[0, 1], [2, 3]])
    out = check_integer_codes(codes, 2)
    assert (
        out is not codes
        or not np.shares_memory(out, codes)
        or out.dtype == codes.dtype
    )
    with pytest.raises(ValueError, match="attributes has 2 rows but the data has 3"):
        check_integer_codes(codes, 3)
    with pytest.raises(ValueError, match="fractions"):
        check_integer_codes([0.5, 1.0], 2)
    with pytest.raises(ValueError, match="NaN"):
        check_integer_codes([np.nan, 1.0], 2)
    with pytest.raises(ValueError, match="integer-coded"):
        check_integer_codes(["a", "b"], 2)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        check_integer_codes(np.zeros((2, 2, 2)), 2)
