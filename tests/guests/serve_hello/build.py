"""Build this guest: ``hello.wat`` with the WIT in ``wit/``, made a component by wasm-tools.

``build(cache)`` returns the component's path in the directory ``cache``,
keyed by a hash of this folder (built on first use).  It raises
``FileNotFoundError`` when ``wasm-tools`` is not on PATH and
``subprocess.CalledProcessError`` when a step fails.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORLD = "serve-hello"
# What the guest answers to every request.
BODY = b"hello from wat\n"


def build(cache: Path) -> Path:
    digest = hashlib.sha256()
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(HERE)).encode() + path.read_bytes())
    out = cache / f"serve_hello-{digest.hexdigest()[:16]}.wasm"
    if out.exists():
        return out
    embedded = cache / f"serve_hello-{os.getpid()}.embed.wasm"
    partial = cache / f"serve_hello-{os.getpid()}.wasm.tmp"
    try:
        run = ["wasm-tools", "component"]
        subprocess.run([*run, "embed", str(HERE / "wit"), "--world", WORLD, str(HERE / "hello.wat"), "-o", str(embedded)],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*run, "new", str(embedded), "-o", str(partial)], check=True, capture_output=True, timeout=120)
        os.replace(partial, out)
    finally:
        embedded.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return out
