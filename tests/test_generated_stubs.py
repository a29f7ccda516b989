"""costory_proto/ must be exactly what proto/generate.py makes from proto/: never edited, never stale."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load_generator():
    spec = importlib.util.spec_from_file_location("proto_generate", REPO / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_generated_stubs_are_up_to_date(tmp_path):
    fresh = tmp_path / "costory_proto"
    _load_generator().generate(fresh)
    committed = REPO / "costory_proto"
    assert _files(committed) == _files(fresh), "run `make proto`"
    stale = [f for f in sorted(_files(fresh)) if not filecmp.cmp(committed / f, fresh / f, shallow=False)]
    assert stale == [], f"stale generated files (run `make proto`): {stale}"
