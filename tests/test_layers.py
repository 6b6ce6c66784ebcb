"""The layer rules of ../shared/DESIGN.md and docs/ARCHITECTURE.md, checked on every import (function-local ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sarlang"
CORE = {"schema", "errors", "files", "vocabulary"}

#: layer -> layers it must never import (beyond these, anything below it is fine)
FORBIDDEN: dict[str, set[str]] = {
    "knowledge": {"corpus", "models", "eval", "chat", "cli", "demo", "app"},
    **{core: {"registry", "chat", "sar", "sources", "corpus", "formats", "eval", "models", "engines", "cli", "demo", "app"} for core in CORE},
    "sar": {"corpus", "formats", "eval", "models", "chat", "sources", "cli", "demo", "app"},
    "sources": {"corpus", "formats", "eval", "models", "chat", "cli", "demo", "app"},
    "corpus": {"models", "eval", "cli", "demo", "app"},
    "formats": {"corpus", "models", "eval", "cli", "demo", "app"},
    "models": {"corpus", "eval", "cli", "demo", "app"},
    "eval": {"models", "corpus", "cli", "demo", "app"},
    "chat": {"corpus", "formats", "eval", "models", "sar", "sources", "cli", "demo", "app"},
    "engines": {"corpus", "formats", "eval", "models", "sar", "sources", "chat", "cli", "demo", "app"},
}


def _layer(module: str) -> str:
    """``sarlang.corpus.vqa`` -> ``corpus``; ``sarlang.files`` -> ``files``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_of(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``sarlang`` module imported anywhere in the file (relative imports resolved)."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "sarlang"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "sarlang":
                found.append((node.lineno, target))
    return found


def violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        layer = _layer(_module_of(path))
        for line, target in _imports(path):
            used = _layer(target)
            if used in FORBIDDEN.get(layer, set()) or (used in {"cli", "demo"} and layer not in {"cli", "demo"}) \
                    or (used == "app" and layer not in {"cli", "app"}):
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {layer} imports {target}")
    return bad


def test_no_layer_imports_what_is_above_it() -> None:
    assert violations() == []


def test_the_check_finds_a_forbidden_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module of sar/ that imports the scorer, and one of eval/ that imports a model, are caught."""
    fake = tmp_path / "sarlang"
    (fake / "sar").mkdir(parents=True)
    (fake / "eval").mkdir()
    (fake / "sar" / "bad.py").write_text("def f():\n    from sarlang.eval.vqa import score_vqa\n")
    (fake / "eval" / "bad.py").write_text("from ..models import base\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", fake)
    found = violations()
    assert any("sar imports sarlang.eval.vqa" in v for v in found) and any("eval imports sarlang.models" in v for v in found)
