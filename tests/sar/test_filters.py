"""Speckle filters against their published formulas, findpeaks, and real HRSID tiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import gammainc

from sarlang.errors import SarlangError
from sarlang.sar import filters as F
from sarlang.schema import SarImage, UnitError

from ..conftest import SHARED_DATA

RNG = np.random.default_rng(42)


def speckled(shape=(41, 37), looks=2.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = np.where(np.arange(shape[1])[None, :] < shape[1] // 2, 1.0, 6.0) * np.ones(shape)
    return (truth * rng.gamma(looks, 1 / looks, size=shape)).astype(np.float32)


def windows(img: np.ndarray, k: int):
    """Every pixel's truncated k x k window (offsets -(k//2) .. k-1-k//2), valid values only."""
    h, w = img.shape
    o0, o1 = k // 2, k - 1 - k // 2
    for r in range(h):
        for c in range(w):
            win = img[max(0, r - o0) : min(h, r + o1 + 1), max(0, c - o0) : min(w, c + o1 + 1)]
            yield r, c, win[np.isfinite(win)].astype(np.float64)


def reference(img: np.ndarray, k: int, formula) -> np.ndarray:
    out = np.full(img.shape, np.nan)
    for r, c, win in windows(img, k):
        x = float(img[r, c])
        if math.isfinite(x):
            out[r, c] = formula(x, win, r, c)
    return out


def lee_formula(looks):
    cu2 = 1 / looks

    def f(x, win, r, c):
        m, v = win.mean(), win.var()
        w = min(max(1 - cu2 * m * m / v, 0), 1) if v > 0 else 0.0
        return m + w * (x - m)

    return f


def kuan_formula(looks):
    cu2 = 1 / looks

    def f(x, win, r, c):
        m, v = win.mean(), win.var()
        w = (1 - cu2 * m * m / v) / (1 + cu2) if v > 0 else 0.0
        return m + min(max(w, 0), 1) * (x - m)

    return f


def gamma_map_formula(looks):
    cu = 1 / math.sqrt(looks)

    def f(x, win, r, c):
        m, v = win.mean(), win.var()
        ci = math.sqrt(v) / m
        if ci <= cu:
            return m
        if ci >= math.sqrt(2) * cu:
            return x
        alpha = (1 + cu**2) / (ci**2 - cu**2)
        b = alpha - looks - 1
        return (b * m + math.sqrt(m * m * b * b + 4 * alpha * looks * m * x)) / (2 * alpha)

    return f


def frost_reference(img: np.ndarray, k: int, damping: float) -> np.ndarray:
    h, w = img.shape
    o0, o1 = k // 2, k - 1 - k // 2
    out = np.full(img.shape, np.nan)
    for r, c, win in windows(img, k):
        if not math.isfinite(img[r, c]):
            continue
        b = damping * win.var() / win.mean() ** 2
        acc = wsum = 0.0
        for rr in range(max(0, r - o0), min(h, r + o1 + 1)):
            for cc in range(max(0, c - o0), min(w, c + o1 + 1)):
                v = img[rr, cc]
                if math.isfinite(v):
                    wt = math.exp(-b * math.hypot(rr - r, cc - c))
                    acc += wt * v
                    wsum += wt
        out[r, c] = acc / wsum
    return out


@pytest.mark.parametrize("with_nan", [False, True])
@pytest.mark.parametrize("k", [3, 5, 2])
def test_moment_filters_match_their_formulas(with_nan: bool, k: int) -> None:
    img = speckled()
    if with_nan:
        img[5:8, 3:6] = np.nan
        img[0, 0] = np.inf
    checks = [
        (F.boxcar(img, size=k), reference(img, k, lambda x, win, r, c: win.mean())),
        (F.median(img, size=k), reference(img, k, lambda x, win, r, c: np.median(win))),
        (F.lee(img, size=k, looks=2.0), reference(img, k, lee_formula(2.0))),
        (F.kuan(img, size=k, looks=2.0), reference(img, k, kuan_formula(2.0))),
        (F.gamma_map(img, size=k, looks=2.0), reference(img, k, gamma_map_formula(2.0))),
        (F.frost(img, size=k, damping=2.0), frost_reference(img, k, 2.0)),
    ]
    for ours, expected in checks:
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=1e-6)
        assert np.array_equal(np.isnan(ours), ~np.isfinite(img))  # missing pixels stay missing, nothing else


def test_findpeaks_lee_and_kuan_agree_where_definitions_coincide() -> None:
    """findpeaks' 'win_size=3' window spans rows i-1..i and columns j-1..j (its slice end is exclusive):
    that is our 2x2 window; its cu is our 1/sqrt(looks). Away from the first row and column they must agree,
    up to findpeaks' rounding of every output to an integer (it expects 8-bit pictures)."""
    findpeaks_lee = pytest.importorskip("findpeaks.filters.lee")
    findpeaks_kuan = pytest.importorskip("findpeaks.filters.kuan")
    img = np.round(speckled((30, 28)) * 1000).astype(np.float64)
    cu = 0.25
    for theirs_filter, ours_filter in ((findpeaks_lee.lee_filter, F.lee), (findpeaks_kuan.kuan_filter, F.kuan)):
        theirs = theirs_filter(img.copy(), win_size=3, cu=cu)
        ours = ours_filter(img, size=2, looks=1 / cu**2)
        np.testing.assert_allclose(ours[1:, 1:], theirs[1:, 1:], atol=0.5 + 1e-3 * img.max() * 1e-3)
        assert np.abs(ours[1:, 1:] - theirs[1:, 1:]).mean() < 0.3  # rounding only


def test_interior_fast_path_equals_checked_path() -> None:
    img = speckled((70, 90), seed=3)
    with_nan = img.copy()
    with_nan[0, 0] = np.nan  # forces the checked kernel everywhere
    for name in ("Boxcar", "Lee", "Kuan", "Gamma Map", "Frost", "Refined Lee"):
        kw = {} if name in ("Boxcar", "Frost") else {"looks": 2.0}
        a = F.speckle_filter(img, name, **kw)
        b = F.speckle_filter(with_nan, name, **kw)
        np.testing.assert_allclose(a[4:, 4:], b[4:, 4:], rtol=1e-5, err_msg=name)  # beyond the reach of (0, 0)


def test_refined_lee_keeps_edges_and_smooths_flat_areas() -> None:
    rng = np.random.default_rng(1)
    truth = np.where(np.arange(96)[None, :] < 48, 1.0, 10.0) * np.ones((96, 96))
    img = (truth * rng.gamma(1.0, 1.0, truth.shape)).astype(np.float32)
    out = F.refined_lee(img, looks=1.0)
    box = F.boxcar(img, size=7)
    # the columns right next to the edge keep their side's level; a 7x7 boxcar mixes them
    assert abs(out[8:-8, 46].mean() - 1.0) < 0.35 and abs(out[8:-8, 49].mean() - 10.0) < 2.0
    assert abs(box[8:-8, 46].mean() - 1.0) > 1.0
    flat = out[8:-8, 8:40]
    assert flat.mean() ** 2 / flat.var() > 8  # ENL of a flat area rises from 1


def test_lee_sigma_range_and_point_targets() -> None:
    for looks in (1.0, 2.0, 4.0):
        for sigma in (0.5, 0.7, 0.9):
            eta1, eta2, var = F.sigma_range(looks, sigma)
            prob = gammainc(looks, looks * eta2) - gammainc(looks, looks * eta1)
            mean = (gammainc(looks + 1, looks * eta2) - gammainc(looks + 1, looks * eta1)) / prob
            assert prob == pytest.approx(sigma, abs=1e-9) and mean == pytest.approx(1.0, abs=1e-9)
            assert 0 < var < 1 / looks
    img = speckled((40, 40), looks=4.0, seed=5)
    img[20:23, 20:23] = 500.0  # a 3x3 strong point target
    out = F.lee_sigma(img, looks=4.0)
    assert out[21, 21] == img[21, 21]
    assert np.nanvar(out[2:18, 2:18]) < np.nanvar(img[2:18, 2:18]) / 2


def test_estimate_enl() -> None:
    rng = np.random.default_rng(0)
    for looks in (1, 4, 9):
        img = rng.gamma(looks, 1 / looks, size=(512, 512)).astype(np.float32)
        assert F.estimate_enl(img) == pytest.approx(looks, rel=0.1)


def test_units_and_bad_input() -> None:
    db = SarImage(np.zeros((10, 10), np.float32), "db")
    with pytest.raises(UnitError, match="needs intensity"):
        F.lee(db, looks=1)
    out = F.lee(SarImage(np.ones((10, 10), np.float32), "intensity"), looks=1)
    assert out.units == "intensity" and np.allclose(out.data, 1.0)  # constant image: no crash, unchanged
    assert F.refined_lee(np.ones((1, 1), np.float32), looks=1.0).shape == (1, 1)
    assert np.isnan(F.lee(np.full((4, 4), np.nan, np.float32), looks=1.0)).all()
    with pytest.raises(SarlangError, match="unknown speckle filter"):
        F.speckle_filter(np.ones((4, 4)), "Wiener")
    with pytest.raises(SarlangError, match="bad parameters"):
        F.speckle_filter(np.ones((4, 4)), "Lee", damping=3)
    with pytest.raises(SarlangError, match="2-D"):
        F.lee(np.ones((2, 3, 3)), looks=1)
    with pytest.raises(SarlangError, match="number of looks"):
        F.lee(np.ones((4, 4)), looks=0)


HRSID = SHARED_DATA / "hrsid"


@pytest.mark.skipif(not HRSID.exists(), reason="../shared/data/hrsid is absent (real HRSID tiles)")
def test_real_hrsid_tiles_gain_looks_on_sea_and_keep_ship_edges() -> None:
    from PIL import Image

    from sarlang.sar.io import read_sar

    tiles = 0
    contrast = {"Refined Lee": [], "Lee Sigma": [], "Boxcar": []}
    for path in sorted((HRSID / "images").glob("*.jpg"))[:8]:
        mask = np.asarray(Image.open(HRSID / "masks" / f"{path.stem}.png").convert("RGB"))[:, :, 1] > 127
        if mask.sum() < 20:
            continue
        tiles += 1
        intensity = read_sar(path).data.astype(np.float32) ** 2  # 8-bit amplitude-like values
        looks = F.estimate_enl(intensity)
        sea = ndimage.binary_dilation(mask, iterations=6) & ~ndimage.binary_dilation(mask, iterations=2)
        before = intensity[mask].mean() / intensity[sea].mean()
        for name in contrast:
            out = F.boxcar(intensity, size=7) if name == "Boxcar" else F.speckle_filter(intensity, name, looks=looks)
            if name != "Boxcar":
                assert F.estimate_enl(out) > 5 * looks, (path.name, name)  # looks gained on homogeneous sea
            contrast[name].append(out[mask].mean() / out[sea].mean() / before)
    assert tiles >= 3
    assert min(contrast["Refined Lee"]) > 0.8 and min(contrast["Lee Sigma"]) > 0.8
    assert np.mean(contrast["Refined Lee"]) > np.mean(contrast["Boxcar"]) + 0.1
