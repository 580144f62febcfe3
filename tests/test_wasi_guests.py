"""Real componentize-py components on the WASI 0.2 host, side by side with wasmtime's own.

Each test builds (or takes from the cache) a guest of tests/guests/, runs the
same export under ``wasmtime.component`` (``add_wasip2`` + ``store.set_wasi``)
and under ``wasmcomponent``, and asserts equal results, stdout and stderr
(and, for file tests, the same resulting directory tree).  Skipped with the
reason when componentize-py cannot build the guests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasi_guests import Outcome, Setup, build, call_export, call_run, engine, run_guest, tree

BACKENDS = ("wasmtime", "wasmcomponent")


@pytest.fixture(scope="module")
def eng() -> wasmtime.Engine:
    return engine()


def _load(eng: wasmtime.Engine, name: str) -> dict[str, Any]:
    path = build(name)
    import wasmtime.component as wt

    import wasmcomponent as wc

    return {"wasmtime": wt.Component.from_file(eng, str(path)), "wasmcomponent": wc.Component.from_file(eng, str(path))}


@pytest.fixture(scope="module")
def probe(eng: wasmtime.Engine) -> dict[str, Any]:
    return _load(eng, "probe")


@pytest.fixture(scope="module")
def command(eng: wasmtime.Engine) -> dict[str, Any]:
    return _load(eng, "command")


def both(
    eng: wasmtime.Engine,
    components: dict[str, Any],
    tmp_path: Path,
    setup_for: Callable[[str], Setup],
    call: Callable[[Any, wasmtime.Store], Any],
) -> dict[str, Outcome]:
    return {
        backend: run_guest(backend, eng, components[backend], tmp_path / backend, setup_for(backend), call)
        for backend in BACKENDS
    }


def same(outcomes: dict[str, Outcome]) -> Outcome:
    reference, ours = outcomes["wasmtime"], outcomes["wasmcomponent"]
    assert ours.result == reference.result
    assert ours.stdout == reference.stdout
    assert ours.stderr == reference.stderr
    return ours


def test_hello_stdout_and_stderr(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    out = same(both(eng, probe, tmp_path, lambda _b: Setup(), call_export("hello", "wasi")))
    assert out.result == "Hello, wasi!"
    assert out.stdout == b"hello, wasi\n"
    assert out.stderr == b"to stderr\n"


def test_env_and_args(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    setup = Setup(argv=["probe", "one", "two words", "ünï"], env=[("PROBE_A", "1"), ("PROBE_B", "x=y"), ("OTHER", "z")])
    out = same(both(eng, probe, tmp_path, lambda _b: setup, call_export("env-and-args")))
    assert "'two words'" in out.result and "('PROBE_B', 'x=y')" in out.result and "OTHER" not in out.result


def test_random_and_clocks(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    out = same(both(eng, probe, tmp_path, lambda _b: Setup(), call_export("random-and-clocks")))
    assert out.result.split(";") == [
        "urandom lengths 32 32",
        "urandom differs True",
        "random in range True",
        "slept True",
        "wall sane True",
    ]


def _fresh_dir(base: Path, backend: str) -> Path:
    root = base / f"fs-{backend}"
    root.mkdir()
    (root / "existing.txt").write_text("was here\n")
    return root


def test_files_in_a_preopen(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    def setup(backend: str) -> Setup:
        return Setup(preopens=[(str(_fresh_dir(tmp_path, backend)), "/sandbox", True)])

    out = same(both(eng, probe, tmp_path, setup, call_export("files", "/sandbox")))
    assert "read 'first line\\nsecond line\\n'" in out.result
    assert "size 200" in out.result
    assert "missing: FileNotFoundError" in out.result
    assert tree(tmp_path / "fs-wasmtime") == tree(tmp_path / "fs-wasmcomponent")
    assert (tmp_path / "fs-wasmcomponent" / "sub" / "renamed.txt").read_text() == "first line\nsecond line\n"


def test_stdin_echo(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    data = ("line one\nline two ü\n" * 2000).encode()
    out = same(both(eng, probe, tmp_path, lambda _b: Setup(stdin=data), call_export("stdin-echo")))
    assert out.result == data.decode()
    assert out.stdout == data.decode().upper().encode()


def test_stdin_closed_by_default(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    out = same(both(eng, probe, tmp_path, lambda _b: Setup(), call_export("stdin-echo")))
    assert out.result == ""


def _sandbox_dirs(base: Path, backend: str) -> tuple[str, str]:
    outer = base / f"sb-{backend}"
    root = outer / "root"
    (root / "inner").mkdir(parents=True)
    (outer / "secret.txt").write_text("secret")
    (root / "inside.txt").write_text("inside")
    os.symlink(str(outer / "secret.txt"), root / "link-abs")
    os.symlink("../secret.txt", root / "link-rel")
    os.symlink("inside.txt", root / "link-inside")
    os.symlink("..", root / "link-updir")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    readonly = outer / "ro"
    readonly.mkdir()
    (readonly / "inside.txt").write_text("read only")
    return str(root), str(readonly)


def test_sandbox_battery(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    def setup(backend: str) -> Setup:
        root, readonly = _sandbox_dirs(tmp_path, backend)
        return Setup(preopens=[(root, "/sandbox", True), (readonly, "/ro", False)])

    out = same(both(eng, probe, tmp_path, setup, call_export("sandbox", "/sandbox", "/ro")))
    lines = dict(line.split(": ", 1) for line in out.result.splitlines())
    for escape in ("dotdot", "dotdot-deep", "absolute", "symlink-abs", "symlink-rel", "symlink-dir-escape"):
        assert not lines[escape].startswith("ok"), (escape, lines[escape])
    assert lines["dotdot-inside"] == "ok 'inside'"
    assert lines["symlink-inside"] == "ok 'inside'"
    assert lines["readonly-read"] == "ok 'read only'"
    assert lines["symlink-loop"] == "OSError:32"  # wasi-libc's ELOOP
    for write in ("readonly-write", "readonly-append", "readonly-mkdir", "readonly-remove", "readonly-rename"):
        assert lines[write].startswith("PermissionError"), (write, lines[write])
    assert "secret" not in out.result
    assert (tmp_path / "sb-wasmcomponent" / "ro" / "inside.txt").read_text() == "read only"


def test_guest_exception_traps_and_poisons(eng: wasmtime.Engine, probe: dict[str, Any], tmp_path: Path) -> None:
    def call(instance: Any, store: wasmtime.Store) -> Any:
        try:
            call_export("fail")(instance, store)
        except wasmtime.WasmtimeError:
            pass
        else:
            raise AssertionError("expected a trap")
        return call_export("hello", "again")(instance, store)

    outcomes = both(eng, probe, tmp_path, lambda _b: Setup(), call)
    ours = outcomes["wasmcomponent"]
    assert ours.result == ("trap", "ComponentTrap")
    assert outcomes["wasmtime"].result[0] == "trap"
    assert ours.stdout == outcomes["wasmtime"].stdout
    assert b"RuntimeError: deliberate failure" in ours.stderr
    assert ours.stderr == outcomes["wasmtime"].stderr


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("ok", ("variant", "ok", None)), ("err", ("variant", "err", None)), ("exit0", ("exit", 0)), ("exit3", ("exit", 1))],
)
def test_command_exit_codes(
    eng: wasmtime.Engine, command: dict[str, Any], tmp_path: Path, mode: str, expected: Any
) -> None:
    out = same(both(eng, command, tmp_path, lambda _b: Setup(argv=["cmd", mode]), call_run))
    assert out.result == expected
    assert out.stdout == f"command running: {mode}\n".encode()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("mode", "status"), [("ok", 0), ("err", 1), ("exit0", 0), ("exit3", 1)])
def test_cli_runs_a_command(backend: str, mode: str, status: int) -> None:
    import subprocess

    path = build("command")
    env = dict(os.environ, WASMCOMPONENT_CLI_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "wasmcomponent", "run", "--env", "A=1", str(path), "--", mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == status, proc.stderr
    assert proc.stdout == f"command running: {mode}\n"
