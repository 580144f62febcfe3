"""``wasmcomponent bindgen app.wasm --out DIR [--name PKG]``: write the bindings package.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="bindgen")
    >>> add_arguments(parser)
    >>> parser.parse_args(["app.wasm", "--out", "gen"]).name is None
    True
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bindgen`` command's arguments."""
    parser.add_argument("component", help="the component (.wasm, or text)")
    parser.add_argument("--out", required=True, help="directory to write the package into")
    parser.add_argument("--name", default=None, help="package name (default: the world's name in snake_case)")
    parser.add_argument("--world", default="root", help="world name, for the world class (default: root)")


def main(args: argparse.Namespace) -> int:
    """Generate the package into ``args.out``; 0 on success, 1 (with a message on stderr) on failure."""
    import wasmtime

    from ..errors import ComponentError
    from ..runtime.component import Component
    from . import generate

    try:
        component = Component.from_file(wasmtime.Engine(), args.component)
        files = generate(component, args.name, args.world)
    except (OSError, ComponentError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.out)
    for relative, source in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    package = next(iter(files)).split("/", 1)[0] if files else ""
    print(f"wrote package `{package}` ({len(files)} files) to {out}")
    return 0
