"""The conformance suites as test data: where they are, and their components.

``CONFORMANCE_DIR`` is ``$WASMCOMPONENT_CONFORMANCE_DIR`` or the ``shared/``
folder beside the repository; tests that need it skip when it is absent (a
user's clone).  ``convert_wast`` runs ``wasm-tools json-from-wast``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

from wasmcomponent.binary.decoder import COMPONENT_PREAMBLE

WASM_TOOLS = shutil.which("wasm-tools")
CONFORMANCE_DIR = Path(
    os.environ.get("WASMCOMPONENT_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
)


def wast_files() -> list[Path]:
    return sorted(CONFORMANCE_DIR.rglob("*.wast")) if CONFORMANCE_DIR.is_dir() else []


def convert_wast(wast: Path, out: Path) -> dict[str, Any] | None:
    """``wasm-tools json-from-wast`` into ``out``; None when the script cannot be converted.

    Two wasmtime scripts use the legacy index syntax, which needs
    ``WAST_STRICT_COMPONENT_INDICES=0``: it is tried second.
    """
    out.mkdir(parents=True, exist_ok=True)
    command = [str(WASM_TOOLS), "json-from-wast", str(wast), "-o", str(out / "x.json"), "--wasm-dir", str(out)]
    for strict in ("1", "0"):
        env = dict(os.environ, WAST_STRICT_COMPONENT_INDICES=strict)
        if subprocess.run(command, capture_output=True, env=env, check=False).returncode == 0:
            result: dict[str, Any] = json.loads((out / "x.json").read_text())
            return result
    return None


def module_commands(spec: dict[str, Any], kinds: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The commands of ``kinds`` that carry a binary file."""
    for command in spec["commands"]:
        if command["type"] in kinds and str(command.get("filename", "")).endswith(".wasm"):
            yield command


def component_binaries(out: Path) -> list[bytes]:
    """Every valid component (``module``/``module_definition``) of every script, deduplicated."""
    found: set[bytes] = set()
    for index, wast in enumerate(wast_files()):
        where = out / str(index)
        spec = convert_wast(wast, where)
        if spec is None:
            continue
        for command in module_commands(spec, ("module", "module_definition")):
            data = (where / command["filename"]).read_bytes()
            if data.startswith(COMPONENT_PREAMBLE):
                found.add(data)
    return sorted(found, key=lambda b: (len(b), b))
