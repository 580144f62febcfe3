"""Serialized components and the opt-in on-disk compile cache.

Format of :meth:`Component.serialize` (trusted input only, like wasmtime's)::

    b"wasmcomponent-serialized\\0" | u32 header length | header (UTF-8 JSON) | pickle

The header names the format, wasmcomponent, wasmtime and Python versions and
the engine's gated component features; :func:`deserialize_component` refuses
any mismatch with ``wasmtime.WasmtimeError`` before unpickling.  The pickle
holds the translated ``Plan`` (its core module binaries left out) and each
core module as ``wasmtime.Module.serialize()`` bytes, which
``wasmtime.Module.deserialize`` checks against the engine's configuration.

The cache (:func:`load_component`) stores those bytes in a directory, one
file per (component hash, engine fingerprint).  The engine fingerprint hashes
the serialized form of an empty core module compiled by the engine, which
carries wasmtime's own compatibility data (target, compiler flags,
tunables), plus the gated features.  A file that fails to load (stale,
truncated, other engine) is recompiled and replaced.  Writes are atomic
(temporary file, then ``os.replace``).  Nothing here is module-global state:
the fingerprint is recomputed per call (one tiny compile).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import platform
import struct
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional, Union

import wasmtime

from ..translate import plan as p

if TYPE_CHECKING:
    from .component import Component

__all__ = [
    "serialize_component",
    "deserialize_component",
    "engine_fingerprint",
    "default_cache_dir",
    "load_component",
    "CACHE_DIR_ENV",
]

MAGIC = b"wasmcomponent-serialized\0"
FORMAT = 1
CACHE_DIR_ENV = "WASMCOMPONENT_CACHE_DIR"
PROGRESS_AFTER = 1.0  # seconds before the "compiling" status line appears
CACHE_MAX_ENV = "WASMCOMPONENT_CACHE_MAX_BYTES"
# A compiled 18 MB componentize-py component takes about 35 MB: keep a few dozen.
DEFAULT_CACHE_MAX_BYTES = 1 << 30


def _versions() -> dict[str, Any]:
    try:
        wasmtime_version = metadata.version("wasmtime")
    except metadata.PackageNotFoundError:  # pragma: no cover - wasmtime is a dependency
        wasmtime_version = "unknown"
    from .. import __version__

    return {
        "format": FORMAT,
        "wasmcomponent": __version__,
        "wasmtime": wasmtime_version,
        "python": list(sys.version_info[:2]),
    }


def serialize_component(plan: p.Plan, modules: list[wasmtime.Module], features: frozenset[str]) -> bytes:
    """The serialized form of a compiled component (see the module docstring)."""
    header = {**_versions(), "features": sorted(features)}
    stripped = dataclasses.replace(plan, modules=[b""] * len(plan.modules))
    compiled = [None if m is None else bytes(m.serialize()) for m in modules]
    body = pickle.dumps((stripped, compiled), protocol=pickle.HIGHEST_PROTOCOL)
    encoded_header = json.dumps(header, sort_keys=True).encode()
    return MAGIC + struct.pack("<I", len(encoded_header)) + encoded_header + body


def deserialize_component(
    engine: wasmtime.Engine, data: bytes, features: frozenset[str]
) -> tuple[p.Plan, list[wasmtime.Module]]:
    """``(plan, compiled modules)`` from :func:`serialize_component`'s bytes."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise wasmtime.WasmtimeError("not a serialized wasmcomponent component")
    (size,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    try:
        header = json.loads(data[start : start + size])
    except ValueError:
        raise wasmtime.WasmtimeError("corrupt serialized component header") from None
    expected = {**_versions(), "features": sorted(features)}
    if not isinstance(header, dict):
        raise wasmtime.WasmtimeError("corrupt serialized component header")
    for key, want in expected.items():
        if header.get(key) != want:
            raise wasmtime.WasmtimeError(
                f"serialized component is incompatible: {key} {header.get(key)!r}, expected {want!r}"
            )
    try:
        plan, compiled = pickle.loads(memoryview(data)[start + size :])  # no copy of the payload
    except Exception as err:
        raise wasmtime.WasmtimeError(f"corrupt serialized component: {err}") from None
    if not isinstance(plan, p.Plan) or not isinstance(compiled, list):
        raise wasmtime.WasmtimeError("corrupt serialized component")
    modules = [None if blob is None else wasmtime.Module.deserialize(engine, blob) for blob in compiled]
    return plan, modules  # type: ignore[return-value]


def engine_fingerprint(engine: wasmtime.Engine) -> str:
    """A hex digest identifying ``engine``'s code-generation configuration."""
    from .features import engine_features

    probe = bytes(wasmtime.Module(engine, b"\0asm\x01\0\0\0").serialize())
    digest = hashlib.sha256(probe)
    digest.update(json.dumps({**_versions(), "features": sorted(engine_features(engine))}).encode())
    digest.update(platform.machine().encode())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$WASMCOMPONENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/wasmcomponent``, else ``~/.cache/wasmcomponent``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wasmcomponent"


def load_component(
    engine: wasmtime.Engine,
    source: Union[str, os.PathLike, bytes, bytearray],
    cache_dir: Union[str, os.PathLike, None] = None,
    *,
    progress: Optional[IO[str]] = None,
) -> Component:
    """Compile a component, or load it from the on-disk cache when compiled before.

    ``source`` is a path (``str``/``PathLike``) or the component's bytes
    (binary or text).  ``cache_dir`` defaults to :func:`default_cache_dir`.
    When ``progress`` is a text stream (``sys.stderr`` for a CLI), a one-line
    status is written there if compiling takes longer than a second.
    Cache failures never fail the load: an unreadable or incompatible entry
    is recompiled, an unwritable directory is skipped.
    """
    from .component import Component

    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        label = "component"
    else:
        with open(source, "rb") as f:
            data = f.read()
        label = os.fspath(source) if isinstance(source, str) else str(Path(source))
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(data).hexdigest()[:32] + "-" + engine_fingerprint(engine)[:32]
    entry = directory / f"{key}.wcc"
    try:
        cached = entry.read_bytes()
    except OSError:
        cached = None
    if cached is not None:
        try:
            return Component.deserialize(engine, cached)
        except (wasmtime.WasmtimeError, ValueError, TypeError, EOFError):
            pass  # stale or corrupt: recompile below
    component = _compile_with_progress(engine, data, label, progress)
    _write_atomic(directory, entry, bytes(component.serialize()))
    _trim(directory, keep=entry)
    return component


def cache_max_bytes() -> int:
    """The cache's size cap: ``$WASMCOMPONENT_CACHE_MAX_BYTES``, else 1 GiB."""
    configured = os.environ.get(CACHE_MAX_ENV, "")
    return int(configured) if configured.isdigit() else DEFAULT_CACHE_MAX_BYTES


def _trim(directory: Path, keep: Path) -> None:
    """Delete the least recently written entries until the cache fits :func:`cache_max_bytes`."""
    try:
        entries = []
        for path in directory.glob("*.wcc"):
            info = path.stat()
            entries.append((info.st_mtime, info.st_size, path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    limit = cache_max_bytes()
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if path == keep:
            continue
        try:
            path.unlink()
            total -= size
        except OSError:
            pass  # another process may have removed it


def _compile_with_progress(
    engine: wasmtime.Engine, data: bytes, label: str, progress: Optional[IO[str]]
) -> Component:
    from .component import Component

    if progress is None:
        return Component(engine, data)
    started = time.monotonic()
    shown = threading.Event()

    def announce() -> None:
        shown.set()
        progress.write(f"wasmcomponent: compiling {label} (first load; cached afterwards)...\n")
        progress.flush()

    timer = threading.Timer(PROGRESS_AFTER, announce)
    timer.daemon = True
    timer.start()
    try:
        component = Component(engine, data)
    finally:
        timer.cancel()
    if shown.is_set():
        progress.write(f"wasmcomponent: compiled {label} in {time.monotonic() - started:.1f} s\n")
        progress.flush()
    return component


def _write_atomic(directory: Path, entry: Path, data: bytes) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".wcc")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # an unwritable cache only costs the next load a compile
