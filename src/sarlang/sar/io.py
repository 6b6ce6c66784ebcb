"""Reading and writing SAR rasters.

GeoTIFF (and anything else GDAL reads) goes through rasterio (the ``geotiff`` extra); PNG and
JPEG through Pillow. What the pixel values mean is decided as follows, unless ``units=`` says:

- complex samples (SLC): converted to ``intensity`` (|z|^2);
- integer digital numbers of a GeoTIFF (e.g. Sentinel-1 GRD uint16): ``amplitude``;
- floating point: ``intensity``, or ``db`` / ``amplitude`` when the band description or tags say
  so (as SNAP writes ``Sigma0_VV_db`` or ``Amplitude_VV``);
- 8-bit PNG/JPEG pictures: ``display8``; grey stored as RGB (all channels equal, as HRSID's
  JPEGs) is read as one band; a true colour picture is averaged over its channels, and the
  image's ``source`` says so.

No-data values become NaN. Georeferencing (CRS, affine transform) is kept, and the ground
sampling distance is taken from the transform of a projected CRS in metres.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, MissingDependencyError
from sarlang.files import PICTURE_SUFFIXES, RASTER_SUFFIXES, atomic_path, require
from sarlang.schema import UNITS, SarImage

POLARIZATIONS = ("HH", "HV", "VH", "VV")


def _rasterio() -> Any:
    rasterio = require("rasterio", "geotiff", "GeoTIFF support (rasterio)")
    # Rasters without georeferencing (simulated scenes, plain arrays) are normal here.
    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module="rasterio")
    return rasterio


def _check_units(units: str | None) -> None:
    if units is not None and units not in UNITS:
        raise InputError(f"unknown units '{units}'", hint=f"use one of {', '.join(UNITS)}")


def read_sar(
    path: str | Path,
    polarization: str | None = None,
    band: int | None = None,
    window: tuple[int, int, int, int] | None = None,
    units: str | None = None,
) -> SarImage:
    """Read one band of a SAR raster, with what its values mean.

    Parameters
    ----------
    path:
        A GeoTIFF (or anything GDAL reads, through rasterio) or a PNG/JPEG picture.
    polarization:
        ``HH``, ``HV``, ``VH`` or ``VV``: the band the file names so (rasters only).
    band:
        The band by number, 1-based (default: the first).
    window:
        ``(row, column, height, width)`` in pixels: read only that part (scenes larger than memory).
    units:
        Override what the values mean (``amplitude``, ``intensity``, ``db``, ``display8``);
        by default decided as the module docstring says.

    Returns
    -------
    SarImage
        float32 pixels (NaN for no-data) or uint8 for ``display8``, with units, polarisation,
        ground sampling distance in metres, CRS and transform when the file has them.

    Raises
    ------
    InputError
        The file is missing, a folder, unreadable, or the band/window/units do not fit it.
    MissingDependencyError
        A raster without rasterio installed (``pip install 'sarlang[geotiff]'``).
    """
    p = Path(path)
    _check_units(units)
    if not p.exists():
        raise InputError(f"image '{p}' does not exist")
    if p.is_dir():
        raise InputError(f"'{p}' is a folder, not an image")
    if p.suffix.lower() in PICTURE_SUFFIXES:
        if polarization is not None:
            raise InputError(f"'{p}' is a picture with no polarisation bands", hint="leave out --polarization for PNG/JPEG")
        return _read_picture(p, window, units)
    return _read_raster(p, polarization, band, window, units)


@contextlib.contextmanager
def _whole_images_only() -> Iterator[None]:
    """Pillow refusing truncated files while the block runs, whatever another library set
    (``ImageFile.LOAD_TRUNCATED_IMAGES``, which lmms-eval, for one, turns on for the process):
    a cut image must be a reject, not a picture with a grey lower part."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def _read_picture(p: Path, window: tuple[int, int, int, int] | None, units: str | None) -> SarImage:
    from PIL import Image, UnidentifiedImageError

    try:
        with _whole_images_only(), Image.open(p) as im:
            im.load()
            mode = im.mode
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read image '{p}': {exc}") from None
    note = ""
    if array.ndim == 3:
        channels = array[:, :, :3]
        if array.shape[2] >= 3 and np.array_equal(channels[:, :, 0], channels[:, :, 1]) and np.array_equal(channels[:, :, 0], channels[:, :, 2]):
            array = channels[:, :, 0]
        else:
            array = channels.astype(np.float32).mean(axis=2).round().astype(np.uint8)
            note = " (colour picture averaged over its channels)"
    if window is not None:
        array = _crop(array, window, p)
    if array.dtype == np.uint8 and mode != "F":
        data, default_units = array, "display8"
    elif array.dtype.kind in "ui":
        data, default_units = array.astype(np.float32), "amplitude"
    elif array.dtype.kind == "f":
        data, default_units = array.astype(np.float32), "intensity"
    else:
        raise InputError(f"'{p}' has unsupported pixel type {array.dtype} (mode {mode})")
    chosen = units or default_units
    if chosen != "display8" and data.dtype == np.uint8:
        data = data.astype(np.float32)
    if chosen == "display8" and data.dtype != np.uint8:
        raise InputError(f"'{p}' holds {data.dtype} values, not an 8-bit picture", hint="read it as amplitude or intensity: --units amplitude on the command line, units='amplitude' in Python")
    return SarImage(np.ascontiguousarray(data), chosen, source=str(p) + note)


def _crop(array: np.ndarray, window: tuple[int, int, int, int], p: Path) -> np.ndarray:
    row, col, height, width = window
    if row < 0 or col < 0 or height <= 0 or width <= 0 or row + height > array.shape[0] or col + width > array.shape[1]:
        raise InputError(f"window {window} is outside '{p}' ({array.shape[0]}x{array.shape[1]})")
    return array[row : row + height, col : col + width]


def _band_polarization(description: str | None, tags: dict[str, str]) -> str | None:
    texts = [description or ""] + [f"{k}={v}" for k, v in tags.items()]
    for text in texts:
        for pol in POLARIZATIONS:
            if re.search(rf"(?<![A-Za-z]){pol}(?![A-Za-z])", text.upper()):
                return pol
    return None


def _units_from_text(text: str) -> str | None:
    t = text.lower()
    if re.search(r"(?<![a-z])db(?![a-z])|decibel", t):
        return "db"
    if "amplitude" in t:
        return "amplitude"
    if "intensity" in t or "sigma0" in t or "beta0" in t or "gamma0" in t:
        return "intensity"
    return None


def _read_raster(p: Path, polarization: str | None, band: int | None, window: tuple[int, int, int, int] | None, units: str | None) -> SarImage:
    rasterio = _rasterio()
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    try:
        src = rasterio.open(p)
    except RasterioIOError as exc:
        raise InputError(f"cannot read raster '{p}': {exc}") from None
    with src:
        names = [_band_polarization(src.descriptions[i], src.tags(i + 1)) for i in range(src.count)]
        if polarization is not None:
            wanted = polarization.upper()
            if wanted not in POLARIZATIONS:
                raise InputError(f"unknown polarisation '{polarization}'", hint="use HH, HV, VH or VV")
            if wanted not in names:
                found = ", ".join(n for n in names if n) or "none named"
                raise InputError(f"'{p}' has no {wanted} band (bands: {found})")
            index = names.index(wanted) + 1
        else:
            index = band or 1
            if not 1 <= index <= src.count:
                raise InputError(f"'{p}' has {src.count} band(s); band {index} does not exist")
        win = None
        if window is not None:
            row, col, height, width = window
            if row < 0 or col < 0 or height <= 0 or width <= 0 or row + height > src.height or col + width > src.width:
                raise InputError(f"window {window} is outside '{p}' ({src.height}x{src.width})")
            win = Window(col, row, width, height)
        try:
            raw = src.read(index, window=win, masked=True)
        except RasterioIOError as exc:
            raise InputError(f"cannot read raster '{p}' (truncated or corrupt?): {exc}") from None
        dtype = np.dtype(src.dtypes[index - 1])
        text = " ".join([src.descriptions[index - 1] or "", *src.tags(index).values(), *src.tags().values()])
        if dtype.kind == "c":
            data, default_units = _complex_intensity(raw), "intensity"
        elif dtype.kind in "ui":
            data, default_units = _masked_float(raw), "amplitude"
        elif dtype.kind == "f":
            data, default_units = _masked_float(raw), _units_from_text(text) or "intensity"
        else:
            raise InputError(f"'{p}' band {index} has unsupported pixel type {dtype}")
        transform = src.window_transform(win) if win is not None else src.transform
        crs = src.crs
        gsd = None
        if crs is not None and crs.is_projected and (crs.linear_units or "").lower() in ("metre", "meter", "m"):
            gsd = float(abs(transform.a))
        return SarImage(
            data,
            units or default_units,
            polarization=names[index - 1],
            gsd=gsd,
            crs=crs.to_wkt() if crs is not None else None,
            transform=tuple(transform)[:6] if not transform.is_identity else None,
            source=str(p),
        )


def _masked_float(raw: np.ma.MaskedArray) -> np.ndarray:
    data = np.ma.filled(raw.astype(np.float32), np.nan)
    return np.ascontiguousarray(data, dtype=np.float32)


def _complex_intensity(raw: np.ma.MaskedArray) -> np.ndarray:
    from sarlang.sar.scaling import complex_to_intensity

    intensity = complex_to_intensity(np.ma.getdata(raw))
    intensity[np.ma.getmaskarray(raw)] = np.nan
    return intensity


def verify_image(path: str | Path, width: int | None = None, height: int | None = None) -> str | None:
    """Why the image at ``path`` cannot be used with labels declared for ``width`` x ``height`` pixels, or None.

    The image is decoded completely (a truncated JPEG or PNG, a zero-byte or undecodable file is
    caught, not only a bad header), and its real size is compared with the declared one, so a
    label file that disagrees with its image is never turned into records. Rasters go through
    rasterio (read band 1 in strips of rows); pictures through Pillow.
    """
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            return "image file is empty (0 bytes)"
        if p.suffix.lower() in RASTER_SUFFIXES:
            rasterio = _rasterio()
            with rasterio.open(p) as src:
                real = (src.width, src.height)
                step = max(1, (1 << 24) // max(src.width, 1))
                for row in range(0, src.height, step):
                    src.read(1, window=((row, min(row + step, src.height)), (0, src.width)))
        else:
            from PIL import Image

            with _whole_images_only(), Image.open(p) as im:
                im.load()
                real = im.size
    except MissingDependencyError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - Pillow and GDAL raise many types for a broken file
        return f"image cannot be decoded: {type(exc).__name__}: {str(exc)[:160]}"
    if width is not None and height is not None and real != (int(width), int(height)):
        return f"declared {int(width)}x{int(height)}, image is {real[0]}x{real[1]}"
    return None


def raster_header(path: str | Path) -> tuple[int, int, Any, Any]:
    """(rows, columns, CRS, affine transform) of a raster without reading its pixels."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"raster '{p}' does not exist" if not p.exists() else f"'{p}' is not a file")
    rasterio = _rasterio()
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(p) as src:
            return src.height, src.width, src.crs, src.transform
    except RasterioIOError as exc:
        raise InputError(f"cannot read raster '{p}': {exc}") from None


def write_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write an 8-bit picture, grey (rows, columns) or RGB (rows, columns, 3), atomically."""
    from PIL import Image

    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise InputError(f"write_png needs uint8 (rows, columns) or (rows, columns, 3) pixels, got {array.dtype} {array.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def write_geotiff(path: str | Path, image: SarImage) -> None:
    """Write one band as float32 GeoTIFF (NaN as no-data), keeping CRS and transform, atomically."""
    rasterio = _rasterio()
    from affine import Affine

    data = np.asarray(image.data, dtype=np.float32)
    profile: dict[str, Any] = {
        "driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1, "dtype": "float32",
        "nodata": np.nan, "compress": "deflate", "tiled": data.shape[0] >= 256 and data.shape[1] >= 256,
    }
    if profile["tiled"]:
        profile.update(blockxsize=256, blockysize=256)
    if image.crs:
        profile["crs"] = rasterio.crs.CRS.from_wkt(image.crs)
    if image.transform:
        profile["transform"] = Affine(*image.transform)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_description(1, f"{image.units}" + (f" {image.polarization}" if image.polarization else ""))
        dst.update_tags(1, units=image.units, polarization=image.polarization or "")
