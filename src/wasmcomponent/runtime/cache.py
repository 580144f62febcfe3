"""Serialized components and the opt-in on-disk compile cache.

Format of :meth:`Component.serialize` (trusted input only, like wasmtime's)::

    b"wasmcomponent-serialized\\0" | u32 header length | header (UTF-8 JSON) | body

The header names the format, wasmcomponent, wasmtime and Python versions and
the engine's gated component features; :func:`deserialize_component` refuses
any mismatch with ``wasmtime.WasmtimeError`` before reading the body.  The
body is data only, in ``translate.serial``'s encoding (no pickle): the
translated ``Plan`` (its core module binaries left out) and each core module
as ``wasmtime.Module.serialize()`` bytes, which ``wasmtime.Module.deserialize``
checks against the engine's configuration.  Those are native code, which is
why the bytes must be trusted whatever their format.

The cache (:func:`load_component`) stores those bytes in a directory, one
file per (component hash, engine fingerprint).  The engine fingerprint hashes
the serialized form of an empty core module compiled by the engine, which
carries wasmtime's own compatibility data (target, compiler flags,
tunables), plus the gated features.  A file that fails to load (stale,
truncated, other engine) is recompiled and replaced.  Writes are atomic
(temporary file, then ``os.replace``); a directory that cannot be written is
reported once per process.  Apart from that record, nothing here is
module-global state: the fingerprint is recomputed per call (one tiny compile).

Whoever can write into the cache directory (a guest given ``--dir ~``, say)
must not be able to make a later run execute their code, so every entry is
authenticated::

    b"wasmcomponent-cache\\0" | HMAC-SHA256 tag (32 bytes) | serialized component

The tag covers the magic, the entry's file name (so an entry cannot be
moved to another component's name) and the payload.  The key is 32 random
bytes in a file OUTSIDE the cache directory (:func:`cache_key_path`:
``$WASMCOMPONENT_CACHE_KEY_FILE``, else ``$XDG_CONFIG_HOME/wasmcomponent/cache.key``,
else ``~/.config/wasmcomponent/cache.key``), created with mode 0600 in a
directory created with mode 0700.  A key file that is group/world-accessible
or has the wrong length is replaced by a new key (which invalidates every
entry); one that is not a regular file, is a symlink, or belongs to another
user, or a key directory that others can write or that belongs to another
user, makes :func:`load_cache_key` raise :class:`CacheKeyError`, and
:func:`load_component` then compiles without the cache and says so.  The tag
is checked before anything of the entry is parsed; an entry that fails it is
deleted, and the component is compiled and written again.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import hmac
import json
import os
import platform
import secrets
import stat
import struct
import sys
import tempfile
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional, Union

import wasmtime

from ..errors import ComponentError
from ..translate import plan as p
from ..translate import serial

if TYPE_CHECKING:
    from .component import Component

__all__ = [
    "serialize_component",
    "deserialize_component",
    "engine_fingerprint",
    "default_cache_dir",
    "cache_key_path",
    "load_cache_key",
    "load_component",
    "compile_with_progress",
    "CacheKeyError",
    "CACHE_DIR_ENV",
    "CACHE_KEY_ENV",
]

MAGIC = b"wasmcomponent-serialized\0"
FORMAT = 2  # 1 was a pickle body
ENTRY_MAGIC = b"wasmcomponent-cache\0"
TAG_SIZE = 32  # HMAC-SHA256
KEY_SIZE = 32
MAX_HEADER_BYTES = 1 << 16
CACHE_DIR_ENV = "WASMCOMPONENT_CACHE_DIR"
CACHE_KEY_ENV = "WASMCOMPONENT_CACHE_KEY_FILE"
PROGRESS_AFTER = 1.0  # seconds before the "compiling" status line appears
CACHE_MAX_ENV = "WASMCOMPONENT_CACHE_MAX_BYTES"
# A compiled 18 MB componentize-py component takes about 35 MB: keep a few dozen.
DEFAULT_CACHE_MAX_BYTES = 1 << 30
# The body: the plan, then each core module's serialized bytes (None for a gap).
_BODY_SPEC: serial.Spec = ("fixed", serial.PLAN_SPEC, ("list", ("opt", "bytes")))


class CacheKeyError(ComponentError):
    """The compile cache's key file cannot be used safely (see the module docstring)."""


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
    try:
        body = serial.dumps((stripped, compiled))
    except ValueError as err:  # a plan the codec does not cover: a bug, reported as wasmtime would
        raise wasmtime.WasmtimeError(f"cannot serialize this component: {err}") from None
    encoded_header = json.dumps(header, sort_keys=True).encode()
    return MAGIC + struct.pack("<I", len(encoded_header)) + encoded_header + body


def deserialize_component(
    engine: wasmtime.Engine, data: Union[bytes, memoryview], features: frozenset[str]
) -> tuple[p.Plan, list[wasmtime.Module]]:
    """``(plan, compiled modules)`` from :func:`serialize_component`'s bytes.

    Malformed bytes raise ``wasmtime.WasmtimeError`` (the plan decoder's
    ``DecodeError`` included).  The core modules are native code that
    ``wasmtime.Module.deserialize`` trusts: ``data`` must come from a trusted source.
    """
    view = memoryview(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    if len(view) < len(MAGIC) + 4 or bytes(view[: len(MAGIC)]) != MAGIC:
        raise wasmtime.WasmtimeError("not a serialized wasmcomponent component")
    (size,) = struct.unpack_from("<I", view, len(MAGIC))
    start = len(MAGIC) + 4
    if size > min(MAX_HEADER_BYTES, len(view) - start):
        raise wasmtime.WasmtimeError("corrupt serialized component header")
    try:
        header = json.loads(bytes(view[start : start + size]))
    except (ValueError, RecursionError):
        raise wasmtime.WasmtimeError("corrupt serialized component header") from None
    expected = {**_versions(), "features": sorted(features)}
    if not isinstance(header, dict):
        raise wasmtime.WasmtimeError("corrupt serialized component header")
    for key, want in expected.items():
        if header.get(key) != want:
            raise wasmtime.WasmtimeError(
                f"serialized component is incompatible: {key} {header.get(key)!r}, expected {want!r}"
            )
    plan, compiled = serial.loads(view[start + size :], _BODY_SPEC)
    if len(compiled) != len(plan.modules):
        raise wasmtime.WasmtimeError("corrupt serialized component: module count does not match the plan")
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


def cache_key_path() -> Path:
    """``$WASMCOMPONENT_CACHE_KEY_FILE``, else ``$XDG_CONFIG_HOME/wasmcomponent/cache.key``, else ``~/.config/...``."""
    configured = os.environ.get(CACHE_KEY_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "wasmcomponent" / "cache.key"


# No symlinks; O_NONBLOCK so that a FIFO planted in place of a file cannot block the open.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def _owned_by_someone_else(info: os.stat_result) -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and info.st_uid != geteuid()


def _key_directory(directory: Path) -> None:
    """Create the key's directory (mode 0700) or check that only its owner, the user, can write it."""
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass  # created concurrently: checked below
    info = os.stat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise CacheKeyError(f"cache key directory {directory} is not a directory")
    if _owned_by_someone_else(info):
        raise CacheKeyError(f"cache key directory {directory} belongs to another user")
    if info.st_mode & 0o022:
        raise CacheKeyError(
            f"cache key directory {directory} is writable by other users (chmod 700 it, or set {CACHE_KEY_ENV})"
        )


def _read_key(path: Path) -> Optional[bytes]:
    """The key in ``path``; None when the file is missing, too open or malformed (make a new one)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise CacheKeyError(f"cache key file {path} is a symbolic link") from None
        raise CacheKeyError(f"cannot read cache key file {path}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise CacheKeyError(f"cache key file {path} is not a regular file")
        if _owned_by_someone_else(info):
            raise CacheKeyError(f"cache key file {path} belongs to another user")
        if info.st_mode & 0o077:
            return None  # others could read it: the key may be known, replace it
        text = f.read(4 * KEY_SIZE)
    try:
        key = bytes.fromhex(text.decode("ascii").strip())
    except ValueError:
        return None
    return key if len(key) == KEY_SIZE else None


def _write_key(path: Path, replace: bool) -> None:
    """Write a fresh key to ``path`` (mode 0600); without ``replace``, an existing file wins."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".cache-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(KEY_SIZE).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # atomic create-if-absent: a concurrent creator wins
            except FileExistsError:
                pass
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def load_cache_key(path: Union[str, os.PathLike, None] = None) -> bytes:
    """The compile cache's MAC key from ``path`` (default :func:`cache_key_path`), created if needed.

    A key file readable or writable by group or others, or not holding a key,
    is replaced by a new key.  Raises :class:`CacheKeyError` when the file or
    its directory cannot be trusted (another owner, a symlink, a directory
    others can write) or cannot be created.
    """
    key_path = Path(path) if path is not None else cache_key_path()
    try:
        _key_directory(key_path.parent)
        for _ in range(3):
            key = _read_key(key_path)
            if key is not None:
                return key
            _write_key(key_path, replace=os.path.lexists(key_path))
    except OSError as err:
        raise CacheKeyError(f"cannot create cache key file {key_path}: {err.strerror or err}") from None
    raise CacheKeyError(f"cache key file {key_path} keeps changing")


def _entry_tag(key: bytes, name: str, payload: Union[bytes, memoryview]) -> bytes:
    mac = hmac.new(key, ENTRY_MAGIC, hashlib.sha256)
    mac.update(name.encode() + b"\0")
    mac.update(payload)
    return mac.digest()


def _read_entry(entry: Path, limit: int) -> Optional[bytes]:
    """The bytes of cache file ``entry``, None if absent; a symlink or other odd file counts as corrupt (b"")."""
    try:
        fd = os.open(entry, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError:
        return b""  # a symlink (ELOOP) or unreadable: reject it
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return b""
        return f.read(limit + 1)


def _verified_payload(key: bytes, name: str, data: bytes) -> Optional[memoryview]:
    """The payload of an entry whose tag is right, else None.  Nothing is parsed before the check."""
    head = len(ENTRY_MAGIC) + TAG_SIZE
    if len(data) < head or not data.startswith(ENTRY_MAGIC):
        return None
    payload = memoryview(data)[head:]
    if not hmac.compare_digest(data[len(ENTRY_MAGIC) : head], _entry_tag(key, name, payload)):
        return None
    return payload


def _discard(entry: Path) -> None:
    try:
        os.unlink(entry)
    except OSError:
        pass  # already gone, or a directory: it will never verify anyway


def _warn(progress: Optional[IO[str]], message: str) -> None:
    if progress is not None:
        progress.write(f"wasmcomponent: {message}\n")
        progress.flush()
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def load_component(
    engine: wasmtime.Engine,
    source: Union[str, os.PathLike, bytes, bytearray],
    cache_dir: Union[str, os.PathLike, None] = None,
    *,
    progress: Optional[IO[str]] = None,
    key_file: Union[str, os.PathLike, None] = None,
) -> Component:
    """Compile a component, or load it from the on-disk cache when compiled before.

    ``source`` is a path (``str``/``PathLike``) or the component's bytes
    (binary or text).  ``cache_dir`` defaults to :func:`default_cache_dir` and
    ``key_file`` to :func:`cache_key_path`.  When ``progress`` is a text
    stream (``sys.stderr`` for a CLI), a one-line status is written there if
    compiling takes longer than a second.

    Cache failures never fail the load: an entry whose MAC does not verify is
    deleted and recompiled, as is an unreadable or incompatible one; an
    unwritable directory is skipped with a warning (once per directory and
    process, on ``progress`` or as a ``RuntimeWarning``); an untrustworthy key file (see
    :func:`load_cache_key`) disables the cache for this load, with a warning
    on ``progress`` (or a ``RuntimeWarning``).
    """
    from .component import Component

    data, label = _read_source(source)
    try:
        key = load_cache_key(key_file)
    except CacheKeyError as err:
        _warn(progress, f"compile cache disabled: {err}")
        return _compile_with_progress(engine, data, label, progress)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    name = hashlib.sha256(data).hexdigest()[:32] + "-" + engine_fingerprint(engine)[:32] + ".wcc"
    entry = directory / name
    limit = max(cache_max_bytes(), DEFAULT_CACHE_MAX_BYTES)
    cached = _read_entry(entry, limit)
    if cached is not None:
        payload = _verified_payload(key, name, cached)
        if payload is not None:
            try:
                return Component._deserialize_trusted(engine, payload)
            except wasmtime.WasmtimeError:
                pass  # authentic but stale (another version): replaced below
        _discard(entry)
    component = _compile_with_progress(engine, data, label, progress)
    try:
        fresh = bytes(component.serialize())
    except wasmtime.WasmtimeError:
        return component  # a plan the codec does not cover is used uncached, never refused
    try:
        _write_atomic(directory, entry, ENTRY_MAGIC, _entry_tag(key, name, fresh), fresh)
    except OSError as err:
        _warn_unwritable(progress, directory, err)
        return component
    _trim(directory, keep=entry)
    return component


# Directories already reported as unwritable: the warning is given once per process.
_UNWRITABLE_REPORTED: set[str] = set()
_UNWRITABLE_LOCK = threading.Lock()


def _warn_unwritable(progress: Optional[IO[str]], directory: Path, err: OSError) -> None:
    """Say (once per directory) that the cache cannot be written: every later load compiles again."""
    where = os.path.abspath(directory)
    with _UNWRITABLE_LOCK:
        if where in _UNWRITABLE_REPORTED:
            return
        _UNWRITABLE_REPORTED.add(where)
    reason = err.strerror or str(err)
    _warn(
        progress,
        f"cannot write the compile cache in {where} ({reason}); components are compiled again on every load "
        f"(set {CACHE_DIR_ENV} to a writable directory)",
    )


def compile_with_progress(
    engine: wasmtime.Engine, source: Union[str, os.PathLike, bytes, bytearray], *, progress: Optional[IO[str]]
) -> Component:
    """Compile a component without the cache, with the same "compiling" status line as :func:`load_component`.

    For a CLI run with the cache turned off: a compile of more than
    :data:`PROGRESS_AFTER` seconds writes ``wasmcomponent: compiling ...`` on
    ``progress`` (and how long it took once done).
    """
    data, label = _read_source(source)
    return _compile_reporting(engine, data, label, progress, " (compile cache off)")


def _read_source(source: Union[str, os.PathLike, bytes, bytearray]) -> tuple[bytes, str]:
    """``(bytes, label for messages)`` of a component given as a path or as bytes."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "component"
    with open(source, "rb") as f:
        data = f.read()
    return data, os.fspath(source) if isinstance(source, str) else str(Path(source))


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
    """Compile for the cache (the status line says it is cached afterwards)."""
    return _compile_reporting(engine, data, label, progress, " (first load; cached afterwards)")


def _compile_reporting(
    engine: wasmtime.Engine, data: bytes, label: str, progress: Optional[IO[str]], note: str
) -> Component:
    """Compile; after PROGRESS_AFTER seconds, say so on ``progress`` (then how long it took)."""
    from .component import Component

    if progress is None:
        return Component(engine, data)
    started = time.monotonic()
    shown = threading.Event()

    def announce() -> None:
        shown.set()
        progress.write(f"wasmcomponent: compiling {label}{note}...\n")
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


def _write_atomic(directory: Path, entry: Path, *chunks: bytes) -> None:
    """Write ``entry`` atomically (temporary file, then rename); raises ``OSError`` when it cannot."""
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(directory, 0o700)  # entries are private to the user
        except FileExistsError:
            pass  # created concurrently
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".wcc")
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp's mode: 0600
            for chunk in chunks:
                f.write(chunk)
        os.replace(temporary, entry)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
