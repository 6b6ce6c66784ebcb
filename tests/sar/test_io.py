"""Reading SAR rasters (rasterio, Pillow), units and conversions, writing."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sarlang.errors import InputError
from sarlang.sar import scaling
from sarlang.sar.io import read_sar, write_geotiff, write_png
from sarlang.schema import SarImage, UnitError

from ..conftest import SHARED_DATA

rasterio = pytest.importorskip("rasterio")
warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)


def write_tif(path: Path, data: np.ndarray, descriptions=None, nodata=None, crs="EPSG:32633", transform=None):
    from affine import Affine

    data = data if data.ndim == 3 else data[None]
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": data.shape[0], "dtype": data.dtype.name,
               "crs": crs, "transform": transform or Affine(10.0, 0, 500000.0, 0, -10.0, 4600000.0)}
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, d in enumerate(descriptions or []):
            dst.set_band_description(i + 1, d)
    return path


def test_float_geotiff_round_trip_keeps_georeferencing(tmp_path: Path) -> None:
    data = np.random.default_rng(0).gamma(1, 1, (64, 80)).astype(np.float32)
    path = write_tif(tmp_path / "sigma0.tif", data)
    image = read_sar(path)
    assert image.units == "intensity" and image.gsd == 10.0 and "32633" in image.crs or "UTM" in image.crs
    np.testing.assert_array_equal(image.data, data)
    write_geotiff(tmp_path / "copy.tif", image)
    again = read_sar(tmp_path / "copy.tif")
    np.testing.assert_array_equal(again.data, data)
    assert again.transform == image.transform and again.units == "intensity"


def test_uint16_is_amplitude_and_nodata_becomes_nan(tmp_path: Path) -> None:
    data = np.arange(100, dtype=np.uint16).reshape(10, 10)
    image = read_sar(write_tif(tmp_path / "grd.tif", data, nodata=0))
    assert image.units == "amplitude" and image.data.dtype == np.float32
    assert np.isnan(image.data[0, 0]) and image.data[0, 1] == 1.0
    intensity = scaling.to_intensity(image)
    assert intensity.data[0, 5] == 25.0


def test_complex_slc_becomes_intensity(tmp_path: Path) -> None:
    z = (np.arange(12).reshape(3, 4) + 1j * 2).astype(np.complex64)
    image = read_sar(write_tif(tmp_path / "slc.tif", z))
    assert image.units == "intensity"
    np.testing.assert_allclose(image.data, np.abs(z) ** 2)


def test_polarisation_by_name_and_missing_one(tmp_path: Path) -> None:
    bands = np.stack([np.full((8, 8), 1.0, np.float32), np.full((8, 8), 2.0, np.float32)])
    path = write_tif(tmp_path / "dual.tif", bands, descriptions=["Sigma0_VV", "Sigma0_VH"])
    assert read_sar(path, polarization="vh").data[0, 0] == 2.0
    assert read_sar(path, polarization="VV").polarization == "VV"
    with pytest.raises(InputError, match="no HH band.*VV, VH"):
        read_sar(path, polarization="HH")
    db_path = write_tif(tmp_path / "db.tif", bands[:1], descriptions=["Sigma0_VV_db"])
    assert read_sar(db_path).units == "db"


def test_windowed_read(tmp_path: Path) -> None:
    data = np.arange(10000, dtype=np.float32).reshape(100, 100)
    path = write_tif(tmp_path / "big.tif", data)
    part = read_sar(path, window=(10, 20, 5, 7))
    np.testing.assert_array_equal(part.data, data[10:15, 20:27])
    assert part.transform[2] == 500000.0 + 20 * 10.0
    with pytest.raises(InputError, match="outside"):
        read_sar(path, window=(95, 0, 10, 10))


def test_pictures_grey_as_rgb_and_bad_files(tmp_path: Path) -> None:
    grey = np.random.default_rng(1).integers(0, 255, (20, 30), dtype=np.uint8)
    write_png(tmp_path / "rgb.png", np.repeat(grey[:, :, None], 3, axis=2))
    image = read_sar(tmp_path / "rgb.png")
    assert image.units == "display8" and image.data.shape == (20, 30)
    np.testing.assert_array_equal(image.data, grey)
    (tmp_path / "broken.png").write_bytes(open(tmp_path / "rgb.png", "rb").read()[:60])
    with pytest.raises(InputError, match="cannot read image"):
        read_sar(tmp_path / "broken.png")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(InputError, match="cannot read raster"):
        read_sar(tmp_path / "broken.tif")
    with pytest.raises(InputError, match="does not exist"):
        read_sar(tmp_path / "missing.tif")
    from PIL import Image

    Image.fromarray(np.ones((4, 4), dtype=bool)).save(tmp_path / "bilevel.png")
    with pytest.raises(InputError, match="unsupported pixel type"):
        read_sar(tmp_path / "bilevel.png")
    with pytest.raises(InputError, match="unknown units"):
        read_sar(tmp_path / "rgb.png", units="nonsense")


@pytest.mark.skipif(not (SHARED_DATA / "hrsid").exists(), reason="../shared/data/hrsid is absent (real HRSID tiles)")
def test_real_hrsid_jpeg_reads_as_one_band() -> None:
    path = sorted((SHARED_DATA / "hrsid" / "images").glob("*.jpg"))[0]
    image = read_sar(path)
    assert image.units == "display8" and image.data.shape == (800, 800) and image.data.dtype == np.uint8


def test_unit_conversions_and_refusals() -> None:
    amp = SarImage(np.array([[0.0, 1.0, 10.0]], np.float32), "amplitude")
    intensity = scaling.amplitude_to_intensity(amp)
    db = scaling.intensity_to_db(intensity)
    assert np.isnan(db.data[0, 0]) and db.data[0, 1] == 0.0 and db.data[0, 2] == pytest.approx(20.0)
    assert scaling.intensity_to_db(intensity, floor=1e-3).data[0, 0] == pytest.approx(-30.0)
    np.testing.assert_allclose(scaling.db_to_intensity(db).data[0, 1:], [1.0, 100.0], rtol=1e-6)
    np.testing.assert_allclose(scaling.intensity_to_amplitude(intensity).data, amp.data)
    with pytest.raises(UnitError, match="needs intensity"):
        scaling.intensity_to_db(db)
    with pytest.raises(UnitError):
        scaling.to_intensity(SarImage(np.zeros((2, 2), np.uint8), "display8"))
    stretched = scaling.linear_stretch(np.array([np.nan, -1.0, 0.5, 2.0]), 0.0, 1.0)
    assert stretched.tolist() == [0, 0, 128, 255]
    assert scaling.linear_stretch(np.ones(3), 1.0, 1.0).tolist() == [128, 128, 128]


def test_a_cut_picture_is_refused_even_where_pillow_was_told_to_load_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another library in the process (lmms-eval does) may turn on Pillow's LOAD_TRUNCATED_IMAGES."""
    from PIL import ImageFile

    from sarlang.sar.io import verify_image

    grey = np.random.default_rng(2).integers(0, 255, (64, 64), dtype=np.uint8)
    write_png(tmp_path / "whole.png", grey)
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:-200])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InputError, match="cannot read image"):
        read_sar(tmp_path / "cut.png")
    assert "cannot be decoded" in verify_image(tmp_path / "cut.png", 64, 64)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the other library's setting is left as it was
