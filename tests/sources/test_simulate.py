"""The simulate source: labelled synthetic scenes written as pictures, resolutions of one scene grouped."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.sources.simulate import read


def test_resolutions_of_one_scene_share_a_group(tmp_path: Path) -> None:
    scenes = list(read("2,size=32,gsd=2+6", out_dir=tmp_path))
    assert [(s.id, s.group, s.gsd) for s in scenes] == [("sim000000_g2", "sim000000", 2.0), ("sim000000_g6", "sim000000", 6.0),
                                                         ("sim000001_g2", "sim000001", 2.0), ("sim000001_g6", "sim000001", 6.0)]
    assert all(Path(s.image).exists() and Path(s.image).with_suffix(".json").exists() for s in scenes)
    for spec in ("0", "two", "2,size=4", "2,colour=red"):
        with pytest.raises(InputError):
            list(read(spec, out_dir=tmp_path))
