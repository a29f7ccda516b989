"""Generate the Python stubs in costory_proto/ from the .proto files under proto/.

grpcio-tools writes imports relative to the proto root (``from costory.v1 import options_pb2``); the
generated tree lives inside the ``costory_proto`` package, so those imports are rewritten to be absolute.
The stale-stub test calls ``generate`` into a temporary directory and compares.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE = "costory_proto"
DEFAULT_OUT = PROTO_ROOT.parent / PACKAGE

# Top-level proto packages whose generated modules live under costory_proto/.
_LOCAL_ROOTS = ("costory", "plugin", "tfplugin6")
_FROM_IMPORT = re.compile(rf"^from ({'|'.join(_LOCAL_ROOTS)})\b", re.MULTILINE)
_PLAIN_IMPORT = re.compile(rf"^import ((?:{'|'.join(_LOCAL_ROOTS)})\w*_pb2) as", re.MULTILINE)


def proto_files() -> list[Path]:
    return sorted(p for p in PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Write the stubs for every proto file into ``out_dir`` (a package directory)."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        raw_dir = Path(raw)
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={raw_dir}",
            f"--pyi_out={raw_dir}",
            f"--grpc_python_out={raw_dir}",
            *[str(p.relative_to(PROTO_ROOT)) for p in proto_files()],
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        (out_dir / "__init__.py").write_text('"""Generated from proto/ by proto/generate.py. Do not edit."""\n')
        for src in sorted(raw_dir.rglob("*.py*")):
            rel = src.relative_to(raw_dir)
            dst = out_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            for parent in rel.parents:
                if parent != Path("."):
                    init = out_dir / parent / "__init__.py"
                    if not init.exists():
                        init.write_text("")
            text = src.read_text()
            text = _FROM_IMPORT.sub(rf"from {PACKAGE}.\1", text)
            text = _PLAIN_IMPORT.sub(rf"from {PACKAGE} import \1 as", text)
            dst.write_text(text)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
