"""Build the componentize-py guests of tests/guests/ at test time, and run them on either runtime.

Binaries are cached (never committed) under ``$WASMCOMPONENT_TEST_CACHE`` or
``~/.cache/wasmcomponent-tests``, keyed by a hash of the guest's sources and
the componentize-py version.  ``build(name)`` skips the calling test (with
the reason) when componentize-py is missing or the build fails.

``run_guest`` instantiates a guest under ``wasmtime.component`` (with
``add_wasip2`` and a native ``WasiConfig``) or under ``wasmcomponent`` (with
its readable ``WasiConfig``), configured identically through :class:`Setup`,
and returns an :class:`Outcome` that compares equal across runtimes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import wasmtime

GUESTS = Path(__file__).resolve().parent / "guests"
WORLDS = {"probe": "probe", "command": "command", "bench": "bench", "sockets": "sockets", "http": "http", "wasi_fuzz": "wasi-fuzz", "async_app": "async-app", "async_caller": "async-caller"}


def cache_dir() -> Path:
    root = os.environ.get("WASMCOMPONENT_TEST_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "wasmcomponent-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _componentize_py() -> Optional[list[str]]:
    exe = shutil.which("componentize-py")
    if exe is not None:
        return [exe]
    try:
        import componentize_py  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "componentize_py"]


def _source_key(source: Path, tool: list[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(source)).encode())
            digest.update(path.read_bytes())
    version = subprocess.run([*tool, "--version"], capture_output=True, text=True, timeout=60).stdout
    digest.update(version.encode())
    return digest.hexdigest()[:16]


def build(name: str) -> Path:
    """The cached binary of guest ``name`` (built on first use); skips the test if impossible."""
    tool = _componentize_py()
    if tool is None:
        pytest.skip("componentize-py is not installed (pip install -e .[test])")
    source = GUESTS / name
    out = cache_dir() / f"{name}-{_source_key(source, tool)}.wasm"
    if out.exists():
        return out
    work = cache_dir() / f"build-{name}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    try:
        proc = subprocess.run(
            [*tool, "-d", "wit", "-w", WORLDS.get(name, name), "componentize", "app", "-o", str(out) + ".tmp"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"componentize-py could not build `{name}`: {err}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        pytest.skip(f"componentize-py could not build `{name}`: {' | '.join(tail)}")
    os.replace(str(out) + ".tmp", out)
    return out


def engine() -> wasmtime.Engine:
    """An engine with wasmtime's compilation cache (both runtimes compile core modules with it)."""
    config = wasmtime.Config()
    try:
        config.cache = True
    except wasmtime.WasmtimeError:
        pass
    return wasmtime.Engine(config)


@dataclass
class Setup:
    """One WASI configuration, applied the same way to either runtime's ``WasiConfig``."""

    argv: list[str] = field(default_factory=lambda: ["probe"])
    env: list[tuple[str, str]] = field(default_factory=list)
    stdin: Optional[bytes] = None
    preopens: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass
class Outcome:
    """What a run produced: the result (or the failure), stdout and stderr."""

    result: Any
    stdout: bytes
    stderr: bytes


def _normalize(value: Any) -> Any:
    tag = getattr(value, "tag", None)
    if tag is not None and hasattr(value, "payload"):
        return ("variant", tag, _normalize(value.payload))
    return value


def _failure(err: BaseException) -> tuple[str, Any]:
    if isinstance(err, wasmtime.ExitTrap):
        return ("exit", err.code)
    return ("trap", type(err).__name__)


def run_guest(
    backend: str,
    eng: wasmtime.Engine,
    component: Any,
    tmp: Path,
    setup: Setup,
    call: Callable[[Any, wasmtime.Store], Any],
) -> Outcome:
    """Instantiate ``component`` (of ``backend``'s module) and return ``call(instance, store)``'s outcome."""
    tmp.mkdir(parents=True, exist_ok=True)
    store = wasmtime.Store(eng)
    out_path, err_path = tmp / f"{backend}.stdout", tmp / f"{backend}.stderr"
    if backend == "wasmtime":
        import wasmtime.component as mod

        cfg: Any = wasmtime.WasiConfig()
        cfg.stdout_file = str(out_path)
        cfg.stderr_file = str(err_path)
        if setup.stdin is not None:
            stdin_path = tmp / "stdin.bin"
            stdin_path.write_bytes(setup.stdin)
            cfg.stdin_file = str(stdin_path)
    else:
        import wasmcomponent as mod
        from wasmcomponent.wasi import WasiConfig

        cfg = WasiConfig()
        out_buf = cfg.stdout_buffer()
        err_buf = cfg.stderr_buffer()
        if setup.stdin is not None:
            cfg.stdin_bytes(setup.stdin)
    cfg.argv = setup.argv
    cfg.env = setup.env
    for host, guest, mutable in setup.preopens:
        cfg.preopen_dir(host, guest, mutable)
    store.set_wasi(cfg)
    linker = mod.Linker(eng)
    linker.add_wasip2()
    try:
        instance = linker.instantiate(store, component)
        result = _normalize(call(instance, store))
    except wasmtime.WasmtimeError as err:
        result = _failure(err)
    if backend == "wasmtime":
        del store
        stdout = out_path.read_bytes() if out_path.exists() else b""
        stderr = err_path.read_bytes() if err_path.exists() else b""
    else:
        stdout, stderr = bytes(out_buf), bytes(err_buf)
    return Outcome(result, stdout, stderr)


def call_export(name: str, *args: Any) -> Callable[[Any, wasmtime.Store], Any]:
    def call(instance: Any, store: wasmtime.Store) -> Any:
        func = instance.get_func(store, name)
        assert func is not None, name
        result = func(store, *args)
        func.post_return(store)
        return result

    return call


def call_run(instance: Any, store: wasmtime.Store) -> Any:
    """Call the ``run`` function of the ``wasi:cli/run`` export."""
    iface = instance.get_export_index(store, "wasi:cli/run@0.2.0")
    assert iface is not None
    index = instance.get_export_index(store, "run", iface)
    func = instance.get_func(store, index)
    result = func(store)
    func.post_return(store)
    return result


def tree(root: Path) -> dict[str, Any]:
    """A directory tree as ``{relative path: bytes | "dir" | ("link", target)}``."""
    out: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = path.read_bytes()
    return out


@contextmanager
def loopback_http_server(handler: type, timeout: float = 10.0) -> Iterator[int]:
    """Serve ``handler`` (a ``BaseHTTPRequestHandler``) on 127.0.0.1 in a thread; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout)
