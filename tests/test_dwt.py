"""``imgloss.functional.dwt2`` against ``pywt.dwt2`` (the oracle).

Boundary handling: imgloss extends the signal exactly like pywt's default mode
``"symmetric"``, i.e. half-sample symmetric extension (``... x1 x0 | x0 x1 ... xn-1 |
xn-1 xn-2 ...``, the edge sample repeated), reflected again as often as needed when the
filter is longer than the signal. Each axis of length ``n`` gives
``floor((n + L - 1) / 2)`` coefficients for a filter of length ``L`` (``ceil(n / 2)``
for Haar). Subband naming: imgloss ``(LL, LH, HL, HH)`` is pywt's
``(cA, (cH, cV, cD))``.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pywt = pytest.importorskip("pywt")

from imgloss.functional import dwt2  # noqa: E402

WAVELETS = ["haar", "db2", "sym4"]
SIZES = [(8, 8), (7, 9), (3, 2), (1, 1), (17, 33), (2, 1), (1, 5)]


def oracle(a: np.ndarray, wavelet: str) -> list[np.ndarray]:
    ca, (ch, cv, cd) = pywt.dwt2(a, wavelet)  # mode="symmetric", axes=(-2, -1)
    return [ca, ch, cv, cd]


def check(a: np.ndarray, wavelet: str, dtype: torch.dtype = torch.float64, tol: float = 1e-12) -> None:
    expected = oracle(a, wavelet)
    got = dwt2(torch.from_numpy(a).to(dtype), wavelet)
    assert len(got) == 4
    for name, g, e in zip(("LL", "LH", "HL", "HH"), got, expected):
        assert g.dtype == dtype, name
        assert tuple(g.shape) == e.shape, (name, tuple(g.shape), e.shape)
        np.testing.assert_allclose(g.double().numpy(), e, atol=tol, rtol=0, err_msg=name)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_dwt2_equals_pywt_single_channel(wavelet: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng([WAVELETS.index(wavelet), *size])
    check(rng.random((1, 1) + size), wavelet)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_dwt2_equals_pywt_multichannel_batch(wavelet: str) -> None:
    rng = np.random.default_rng(7)
    for size in [(8, 8), (7, 9), (17, 33), (1, 1)]:
        check(rng.random((3, 4) + size), wavelet)


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_dwt2_batch_elements_are_independent(wavelet: str) -> None:
    rng = np.random.default_rng(8)
    a = rng.random((3, 2, 9, 7))
    whole = dwt2(torch.from_numpy(a), wavelet)
    for i in range(3):
        single = dwt2(torch.from_numpy(a[i : i + 1]), wavelet)
        for w, s in zip(whole, single):
            torch.testing.assert_close(w[i : i + 1], s, atol=1e-12, rtol=0)


def test_dwt2_float32_matches_pywt() -> None:
    rng = np.random.default_rng(9)
    check(rng.random((2, 3, 13, 10)), "db2", dtype=torch.float32, tol=1e-5)


@pytest.mark.parametrize("wavelet", ["coif1", "bior2.2", "db1"])
def test_dwt2_other_pywt_wavelets(wavelet: str) -> None:
    rng = np.random.default_rng(10)
    check(rng.random((1, 2, 11, 6)), wavelet)


def test_haar_is_db1() -> None:
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.random((1, 1, 5, 6)))
    for a, b in zip(dwt2(x, "haar"), dwt2(x, "db1")):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_dwt2_odd_size_is_symmetric_extension() -> None:
    """Odd width: the Haar transform equals that of the input with its last column repeated."""
    rng = np.random.default_rng(12)
    a = rng.random((1, 1, 4, 5))
    padded = np.concatenate([a, a[..., -1:]], axis=-1)
    for g, e in zip(dwt2(torch.from_numpy(a)), dwt2(torch.from_numpy(padded))):
        torch.testing.assert_close(g, e, atol=1e-12, rtol=0)


@pytest.mark.slow  # numerical Jacobian
def test_dwt2_gradient_flows() -> None:
    x = torch.rand(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: dwt2(t, "db2"), (x,))


@pytest.mark.parametrize("name", ["nope", "db99", "morl"])
def test_unknown_wavelet_is_value_error(name: str) -> None:
    # "morl" is a continuous wavelet pywt knows but cannot use for a DWT
    with pytest.raises(ValueError, match="wavelet"):
        dwt2(torch.zeros(1, 1, 4, 4), name)
