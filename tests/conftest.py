"""Shared test helpers: the real CLI entry point, and markers for what a machine may lack."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"

HAS_JAVA = shutil.which("java") is not None
needs_java = pytest.mark.skipif(not HAS_JAVA, reason="Java is not installed (METEOR and the PTB tokenizer need it)")


def sarlang_cli() -> str:
    """The installed ``sarlang`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "sarlang"
    if not script.exists():
        pytest.fail("the sarlang console script is not installed; run `make test`, which installs the package")
    return str(script)


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sarlang_cli(), *args], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def sim_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one small simulated benchmark of the suite, built once per test process: six 64-pixel
    scenes (seed 3: four in the train split, with varied object counts). Tests read it and write
    their outputs elsewhere."""
    from sarlang.corpus.dataset import build_dataset

    out = tmp_path_factory.mktemp("sim_bench")
    build_dataset(["simulate:6,size=64,seed=3"], out)
    return out


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    """Headless Chromium driven by selenium, from Debian's chromium and chromium-driver packages
    (``make test`` installs them; nothing is downloaded at run time). Skips with the reason when
    either is missing."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium or ChromeDriver is not installed (apt-get install chromium chromium-driver; make test does it)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1800", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver, name: str, tmp_path: Path) -> Path:
    """A screenshot of the page in ``tmp_path``; also in ``$SARLANG_SCREENSHOTS`` when set (``make
    screenshots`` writes the README's there)."""
    import os

    path = tmp_path / name
    driver.save_screenshot(str(path))
    if os.environ.get("SARLANG_SCREENSHOTS"):
        from PIL import Image

        folder = Path(os.environ["SARLANG_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:  # small enough to commit: 1000 pixels wide, 128 colours
            shot = shot.convert("RGB")
            shot.thumbnail((1000, 1600))
            shot.quantize(128).save(folder / name, optimize=True)
    return path


def real_8bit_rasters() -> dict[str, Path]:
    """Real 8-bit SAR files of ``../shared/data`` as distributed, one of each kind: an HRSID
    JPEG (grey stored as RGB, zeros in the dark sea, JPEG blocks, a few pixels at 255), an MSTAR
    scene JPEG, both dates of the Ottawa pair (grey PNG). Empty when the folder is absent."""
    if not SHARED_DATA.is_dir():
        return {}
    return {"hrsid": sorted((SHARED_DATA / "hrsid" / "images").glob("*.jpg"))[1],
            "mstar": sorted((SHARED_DATA / "mstar_scenes" / "JPEGImages").glob("*.jpg"))[0],
            "ottawa_may": SHARED_DATA / "change" / "ottawa_north" / "ottawa_1997-05.png",
            "ottawa_august": SHARED_DATA / "change" / "ottawa_north" / "ottawa_1997-08.png"}


def hrsid_mosaic(path: Path, border: int = 100) -> Path:
    """A georeferenced uint8 GeoTIFF (UTM 31N, 3 m) of four real HRSID tiles side by side inside a
    constant zero border (a swath's edge), as a user makes a scene of tiles; needs ../shared/data."""
    rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed (the geotiff extra)")
    import numpy as np
    from PIL import Image
    from rasterio.transform import from_origin

    tiles = sorted((SHARED_DATA / "hrsid" / "images").glob("*.jpg"))[:4]
    pictures = [np.asarray(Image.open(t).convert("L")) for t in tiles]
    side = pictures[0].shape[0]
    mosaic = np.zeros((2 * side + 2 * border, 2 * side + 2 * border), np.uint8)
    for k, picture in enumerate(pictures):
        r, c = border + (k // 2) * side, border + (k % 2) * side
        mosaic[r:r + side, c:c + side] = picture
    with rasterio.open(path, "w", driver="GTiff", width=mosaic.shape[1], height=mosaic.shape[0], count=1, dtype="uint8",
                       crs="EPSG:32631", transform=from_origin(500000, 4000000, 3, 3)) as dst:
        dst.write(mosaic, 1)
    return path
