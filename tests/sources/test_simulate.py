"""The simulate source: labelled synthetic scenes written as pictures, resolutions of one scene grouped."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.sources import parse_source, read_source
from sarlang.sources.simulate import read


def test_resolutions_of_one_scene_share_a_group(tmp_path: Path) -> None:
    kind, path, options = parse_source("simulate:2,size=32,gsd=2+6")
    assert (kind, path, options) == ("simulate", "2", {"size": 32, "gsd": "2+6"})
    scenes = list(read_source(kind, path, options, tmp_path))
    assert [(s.id, s.group, s.gsd) for s in scenes] == [("sim000000_g2", "sim000000", 2.0), ("sim000000_g6", "sim000000", 6.0),
                                                         ("sim000001_g2", "sim000001", 2.0), ("sim000001_g6", "sim000001", 6.0)]
    assert all(Path(s.image).exists() and Path(s.image).with_suffix(".json").exists() for s in scenes)


@pytest.mark.parametrize("spec", ["simulate:0", "simulate:two", "simulate:2,size=4", "simulate:2,colour=red",
                                  "simulate:2,size=1.5", "simulate:2,gsd=0", "simulate:2,gsd=2+x", "simulate:2,looks=-1"])
def test_a_bad_spec_is_a_clear_error(spec: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        kind, path, options = parse_source(spec)
        list(read(path, **options, out_dir=tmp_path))
