"""The `wasmcomponent` command line, run as a subprocess against both runtimes.

The default backend is wasmcomponent itself; `WASMCOMPONENT_CLI_BACKEND=wasmtime`
runs the same command line on `wasmtime.component` as the reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime
import wasmtime.component as wc

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.wat"

MATH_WAT = """
(component
  (core module $m
    (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "is-even") (param i32) (result i32)
      (i32.eqz (i32.and (local.get 0) (i32.const 1))))
    (func (export "nothing"))
    (func (export "boom") unreachable))
  (core instance $i (instantiate $m))
  (func $double (param "x" u32) (result u32) (canon lift (core func $i "double")))
  (func $is-even (param "x" u32) (result bool) (canon lift (core func $i "is-even")))
  (func $nothing (canon lift (core func $i "nothing")))
  (func $boom (canon lift (core func $i "boom")))
  (instance $math (export "double" (func $double)))
  (export "math" (instance $math))
  (export "is-even" (func $is-even))
  (export "nothing" (func $nothing))
  (export "boom" (func $boom))
)
"""


def _backend_available(backend: str) -> bool:
    try:
        import wasmcomponent

        if backend == "wasmcomponent":
            return hasattr(wasmcomponent, "Linker")
    except ImportError:
        return False
    return True


@pytest.fixture(params=["wasmcomponent", "wasmtime"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if not _backend_available(name):
        pytest.skip(f"`wasmcomponent` cannot run the `{name}` backend yet")
    return name


@pytest.fixture
def math_file(tmp_path: Path) -> Path:
    path = tmp_path / "math.wat"
    path.write_text(MATH_WAT)
    return path


def run_cli(backend: str, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["WASMCOMPONENT_CLI_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-m", "wasmcomponent", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_hello_example_runs_on_wasmtime_directly() -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    component = wc.Component.from_file(engine, str(HELLO))
    greet = wc.Linker(engine).instantiate(store, component).get_func(store, "greet")
    assert greet is not None
    for name in ("world", "", "é" * 40_000):
        assert greet(store, name) == f"Hello, {name}!"
        greet.post_return(store)


def test_greet(backend: str) -> None:
    result = run_cli(backend, "run", "examples/hello.wat", "--invoke", 'greet("world")')
    assert (result.returncode, result.stdout, result.stderr) == (0, '"Hello, world!"\n', "")


def test_greet_escapes(backend: str) -> None:
    result = run_cli(backend, "run", str(HELLO), "--invoke", 'greet("a\\"b\\u{2603}\\n")')
    assert result.returncode == 0, result.stderr
    assert result.stdout == '"Hello, a\\"b☃\\n!"\n'


@pytest.mark.parametrize(
    ("call", "stdout"),
    [
        ("math#double(21)", "42\n"),
        ("is-even(4)", "true\n"),
        ("is-even(7,)", "false\n"),
        ("nothing()", ""),
    ],
)
def test_exports(backend: str, math_file: Path, call: str, stdout: str) -> None:
    result = run_cli(backend, "run", str(math_file), "--invoke", call)
    assert (result.returncode, result.stdout, result.stderr) == (0, stdout, "")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("is-even(-1)", "out of range for `u32` (at offset 8)"),
        ('is-even("x")', "expected an integer"),
        ("is-even", "expected `(`"),
        ("is-even()", "missing argument `x`"),
        ("math#nope(1)", "no exported function named `math#nope`"),
        ("nope#double(1)", "no exported instance named `nope`"),
        ("missing()", "no exported function named `missing`"),
        ("boom()", "unreachable"),
    ],
)
def test_errors_are_one_line(backend: str, math_file: Path, call: str, message: str) -> None:
    result = run_cli(backend, "run", str(math_file), "--invoke", call)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_and_invalid_files(backend: str, tmp_path: Path) -> None:
    missing = run_cli(backend, "run", str(tmp_path / "absent.wat"), "--invoke", "f()")
    assert missing.returncode == 1 and "No such file" in missing.stderr
    bogus = tmp_path / "bogus.wat"
    bogus.write_text("(component (func $f (canon lift")
    invalid = run_cli(backend, "run", str(bogus), "--invoke", "f()")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("error: ") and invalid.stderr.count("\n") == 1


def test_usage_errors() -> None:
    if not _backend_available("wasmtime"):
        pytest.skip("the wasmcomponent package does not import yet")
    result = run_cli("wasmtime", "run", str(HELLO))
    assert result.returncode == 2 and "--invoke" in result.stderr
    result = run_cli("bogus", "run", str(HELLO), "--invoke", 'greet("x")')
    assert result.returncode == 1 and "unknown WASMCOMPONENT_CLI_BACKEND" in result.stderr


def test_model_functype_reads_wasmtime_reflection() -> None:
    if not _backend_available("wasmtime"):
        pytest.skip("the wasmcomponent package does not import yet")
    from wasmcomponent.cli import model_functype
    from wasmcomponent.types import model as m

    engine = wasmtime.Engine()
    greet = wc.Component.from_file(engine, str(HELLO)).type.exports(engine)["greet"].ty
    assert model_functype(greet) == m.FuncType((("name", m.STRING),), m.STRING)


COMMAND_WAT = """
(component
  (core module $m
    (func (export "run") (result i32) (i32.const {status})))
  (core instance $i (instantiate $m))
  (type $r (result))
  (func $run (result $r) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.{patch}" (instance $cli))
)
"""


@pytest.mark.parametrize("patch", [0, 3, 12])
@pytest.mark.parametrize(("status", "exit_code"), [(0, 0), (1, 1)])
def test_run_finds_any_patch_version_of_wasi_cli_run(
    backend: str, tmp_path: Path, patch: int, status: int, exit_code: int
) -> None:
    path = tmp_path / "command.wat"
    path.write_text(COMMAND_WAT.format(status=status, patch=patch))
    result = run_cli(backend, "run", str(path))
    assert result.returncode == exit_code, result.stderr
    assert result.stderr == ""


def test_trap_message_has_no_backtrace(backend: str, math_file: Path) -> None:
    result = run_cli(backend, "run", str(math_file), "--invoke", "boom()")
    assert result.returncode == 1
    assert "backtrace" not in result.stderr and "0x" not in result.stderr, result.stderr
    assert result.stderr.rstrip("\n").endswith("unreachable` instruction executed"), result.stderr


def test_network_and_http_flags_reach_the_wasi_config() -> None:
    from wasmcomponent.cli import WasiOptions, _wasi_config

    closed = _wasi_config("app.wasm", WasiOptions())
    assert not closed.tcp_allowed and not closed.http_outgoing_allowed
    opened = _wasi_config("app.wasm", WasiOptions(inherit_network=True, allow_http=True))
    assert opened.tcp_allowed and opened.udp_allowed and opened.ip_name_lookup_allowed
    assert opened.http_outgoing_allowed


def test_dir_exposing_the_compile_cache_is_refused(backend: str, tmp_path: Path) -> None:
    """`--dir` over the cache directory or its key file: exit status 2, both paths named, nothing run."""
    cache_dir, key = tmp_path / "cache", tmp_path / "config" / "cache.key"
    cache_dir.mkdir()
    paths = {"WASMCOMPONENT_CACHE_DIR": str(cache_dir), "WASMCOMPONENT_CACHE_KEY_FILE": str(key)}
    for preopen, exposed in [(cache_dir, cache_dir), (tmp_path / "config", key), (tmp_path, key)]:
        preopen.mkdir(exist_ok=True)
        result = run_cli(backend, "run", "--dir", str(preopen), str(HELLO), "--invoke", 'greet("x")', extra_env=paths)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert f"--dir {preopen} " in result.stderr and os.path.realpath(exposed) in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    result = run_cli(backend, "run", "--dir", str(elsewhere), str(HELLO), "--invoke", 'greet("x")', extra_env=paths)
    assert (result.returncode, result.stdout) == (0, '"Hello, x!"\n'), result.stderr
