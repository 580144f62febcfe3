"""Unchanged wasmtime-py code: ``store.set_wasi(wasmtime.WasiConfig())`` on both runtimes.

One script configures a *native* ``wasmtime.WasiConfig`` (argv, env, stdin,
stdout and stderr files, a read-write and a read-only preopen) and runs the
componentize-py probe and command guests under ``wasmtime.component`` and
under ``wasmcomponent``; stdout, stderr, results, exit codes and the files the
guest left must be the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import wasmtime

from wasi_guests import build, engine, tree


@pytest.fixture(scope="module")
def eng() -> wasmtime.Engine:
    return engine()


def _component(backend: str, eng: wasmtime.Engine, name: str) -> Any:
    path = build(name)
    if backend == "wasmtime":
        import wasmtime.component as wt

        return wt.Component.from_file(eng, str(path))
    import wasmcomponent as wc

    return wc.Component.from_file(eng, str(path))


def _run(backend: str, eng: wasmtime.Engine, guest: str, work: Path, argv: list[str], call: Callable[[Any, Any], Any]) -> dict[str, Any]:
    """The unchanged wasmtime-py script; only the module differs."""
    if backend == "wasmtime":
        import wasmtime.component as mod
    else:
        import wasmcomponent as mod  # type: ignore[no-redef]
    data, readonly = work / "data", work / "ro"
    (work / "stdin.txt").write_bytes(b"from stdin\n")
    cfg = wasmtime.WasiConfig()
    cfg.argv = argv
    cfg.env = [("PROBE_A", "1"), ("PROBE_B", "two")]
    cfg.stdin_file = str(work / "stdin.txt")
    cfg.stdout_file = str(work / "out.txt")
    cfg.stderr_file = str(work / "err.txt")
    cfg.preopen_dir(str(data), "/data")
    cfg.preopen_dir(str(readonly), "/ro", False)
    store = wasmtime.Store(eng)
    store.set_wasi(cfg)
    linker = mod.Linker(eng)
    linker.add_wasip2()
    try:
        instance = linker.instantiate(store, _component(backend, eng, guest))
        result: Any = call(instance, store)
    except wasmtime.ExitTrap as err:
        result = ("exit", err.code)
    except wasmtime.WasmtimeError as err:
        result = ("trap", "wasm trap" in str(err) or "unreachable" in str(err))
    del store, linker  # flushes and closes the stdio files
    return {
        "result": result,
        "stdout": (work / "out.txt").read_bytes(),
        "stderr": (work / "err.txt").read_bytes(),
        "data": tree(data),
        "ro": tree(readonly),
    }


def _export(name: str, *args: Any) -> Callable[[Any, Any], Any]:
    def call(instance: Any, store: Any) -> Any:
        func = instance.get_func(store, name)
        result = func(store, *args)
        func.post_return(store)
        return result

    return call


def _run_command(instance: Any, store: Any) -> Any:
    iface = instance.get_export_index(store, "wasi:cli/run@0.2.0")
    func = instance.get_func(store, instance.get_export_index(store, "run", iface))
    result = func(store)
    func.post_return(store)
    return repr(result)


def _both(eng: wasmtime.Engine, tmp: Path, guest: str, argv: list[str], call: Callable[[Any, Any], Any]) -> dict[str, Any]:
    outcomes = []
    for backend in ("wasmtime", "wasmcomponent"):
        work = tmp / backend
        (work / "data").mkdir(parents=True)
        (work / "ro").mkdir()
        (work / "ro" / "keep.txt").write_text("read only\n")
        outcomes.append(_run(backend, eng, guest, work, argv, call))
        shutil.rmtree(work / "data" / "__pycache__", ignore_errors=True)
    assert outcomes[0] == outcomes[1]
    return outcomes[1]


def test_probe_exports_side_by_side(eng: wasmtime.Engine, tmp_path: Path) -> None:
    out = _both(eng, tmp_path / "hello", "probe", ["probe", "x"], _export("hello", "native"))
    assert out["result"] == "Hello, native!"
    assert out["stdout"] == b"hello, native\n" and out["stderr"] == b"to stderr\n"
    out = _both(eng, tmp_path / "env", "probe", ["probe", "x"], _export("env-and-args"))
    assert "PROBE_B" in out["result"] and "'x'" in out["result"]
    out = _both(eng, tmp_path / "stdin", "probe", ["probe"], _export("stdin-echo"))
    assert "from stdin" in out["result"]


def test_files_and_read_only_preopen_side_by_side(eng: wasmtime.Engine, tmp_path: Path) -> None:
    out = _both(eng, tmp_path / "files", "probe", ["probe"], _export("files", "/data"))
    assert out["data"]  # the guest wrote files into the read-write preopen
    out = _both(eng, tmp_path / "sandbox", "probe", ["probe"], _export("sandbox", "/data", "/ro"))
    assert out["ro"] == {"keep.txt": b"read only\n"}  # the read-only preopen is untouched


@pytest.mark.parametrize("mode", ["ok", "err", "exit0", "exit3"])
def test_command_exit_codes_side_by_side(eng: wasmtime.Engine, tmp_path: Path, mode: str) -> None:
    out = _both(eng, tmp_path, "command", ["cmd", mode], _run_command)
    assert out["stdout"] == f"command running: {mode}\n".encode()
