"""The `wasmcomponent` command line, run as a subprocess against both runtimes.

The default backend is wasmcomponent itself; `WASMCOMPONENT_CLI_BACKEND=wasmtime`
runs the same command line on `wasmtime.component` as the reference.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    result = run_cli(backend, "run", "--invoke", 'greet("world")', "examples/hello.wat")
    assert (result.returncode, result.stdout, result.stderr) == (0, '"Hello, world!"\n', "")


def test_greet_escapes(backend: str) -> None:
    result = run_cli(backend, "run", "--invoke", 'greet("a\\"b\\u{2603}\\n")', str(HELLO))
    assert result.returncode == 0, result.stderr
    assert result.stdout == '"Hello, a\\"b☃\\n!"\n'


@pytest.mark.parametrize(
    ("call", "stdout"),
    [
        ("math#double(21)", "42\n"),
        ("double(21)", "42\n"),
        ("is-even(4)", "true\n"),
        ("is-even(7,)", "false\n"),
        ("nothing()", ""),
    ],
)
def test_exports(backend: str, math_file: Path, call: str, stdout: str) -> None:
    result = run_cli(backend, "run", "--invoke", call, str(math_file))
    assert (result.returncode, result.stdout, result.stderr) == (0, stdout, "")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("is-even(-1)", "out of range for `u32` (at offset 8)"),
        ('is-even("x")', "expected an integer"),
        ("is-even", "expected `(`"),
        ("is-even()", "missing argument `x`"),
        ("boom()", "unreachable"),
    ],
)
def test_errors_are_one_line(backend: str, math_file: Path, call: str, message: str) -> None:
    result = run_cli(backend, "run", "--invoke", call, str(math_file))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_and_invalid_files(backend: str, tmp_path: Path) -> None:
    missing = run_cli(backend, "run", "--invoke", "f()", str(tmp_path / "absent.wat"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    bogus = tmp_path / "bogus.wat"
    bogus.write_text("(component (func $f (canon lift")
    invalid = run_cli(backend, "run", "--invoke", "f()", str(bogus))
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("error: ") and invalid.stderr.count("\n") == 1


def test_usage_errors() -> None:
    if not _backend_available("wasmtime"):
        pytest.skip("the wasmcomponent package does not import yet")
    result = run_cli("wasmtime", "run", str(HELLO))
    assert result.returncode == 2 and "--invoke" in result.stderr
    result = run_cli("bogus", "run", "--invoke", 'greet("x")', str(HELLO))
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
    result = run_cli(backend, "run", "--invoke", "boom()", str(math_file))
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
        result = run_cli(backend, "run", "--dir", str(preopen), "--invoke", 'greet("x")', str(HELLO), extra_env=paths)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert f"--dir {preopen} " in result.stderr and os.path.realpath(exposed) in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    result = run_cli(backend, "run", "--dir", str(elsewhere), "--invoke", 'greet("x")', str(HELLO), extra_env=paths)
    assert (result.returncode, result.stdout) == (0, '"Hello, x!"\n'), result.stderr


# ------------------------------------------------------------ issue 11, point 8: the first hour with the CLI

SHAPES_WIT = """
package my:pkg@1.0.0;

interface types {
  record point { x: s32, y: s32 }
  variant shape { circle(f64), rect(point), empty }
  enum color { red, green, blue }
  flags perms { read, write, %type }
  resource canvas {
    constructor(width: u32, height: u32);
    draw: func(s: shape, c: color) -> result<u32, string>;
    merge: static func(a: canvas, b: borrow<canvas>) -> canvas;
  }
  type id = u64;
}

interface shapes {
  use types.{point, shape, canvas};
  area: func(s: shape) -> f64;
  center: func(s: shape) -> option<point>;
  paint: func(c: borrow<canvas>, at: list<point>) -> tuple<u32, bool>;
}

interface other {
  area: func(w: f64, h: f64) -> f64;
  perimeter: func(w: f64, h: f64) -> f64;
}

world app {
  import log: func(msg: string);
  import types;
  export types;
  export shapes;
  export other;
  export greet: func(name: string) -> string;
}
"""

# What `inspect` prints for SHAPES_WIT's component: each import and export in the
# component's order, interfaces expanded with the WIT printer (`wasmcomponent.wit`).
# An interface both imported and exported is one WIT interface, listed whole on
# both sides; `use` paths are written in full.
SHAPES_INSPECT = """\
import my:pkg/types@1.0.0: interface {
  resource canvas {
    constructor(width: u32, height: u32);
    draw: func(s: shape, c: color) -> result<u32, string>;
    merge: static func(a: canvas, b: borrow<canvas>) -> canvas;
  }

  record point {
    x: s32,
    y: s32,
  }

  variant shape {
    circle(f64),
    rect(point),
    empty,
  }

  enum color {
    red,
    green,
    blue,
  }

  flags perms {
    read,
    write,
    %type,
  }

  type id = u64;
}
import log: func(msg: string);
export greet: func(name: string) -> string;
export my:pkg/types@1.0.0: interface {
  resource canvas {
    constructor(width: u32, height: u32);
    draw: func(s: shape, c: color) -> result<u32, string>;
    merge: static func(a: canvas, b: borrow<canvas>) -> canvas;
  }

  record point {
    x: s32,
    y: s32,
  }

  variant shape {
    circle(f64),
    rect(point),
    empty,
  }

  enum color {
    red,
    green,
    blue,
  }

  flags perms {
    read,
    write,
    %type,
  }

  type id = u64;
}
export my:pkg/shapes@1.0.0: interface {
  use my:pkg/types@1.0.0.{point, shape, canvas};

  area: func(s: shape) -> f64;

  center: func(s: shape) -> option<point>;

  paint: func(c: borrow<canvas>, at: list<point>) -> tuple<u32, bool>;
}
export my:pkg/other@1.0.0: interface {
  area: func(w: f64, h: f64) -> f64;

  perimeter: func(w: f64, h: f64) -> f64;
}
"""

# Two exported interfaces: `double` exists once, `twice` in both.
INTERFACES_WAT = """
(component
  (core module $m
    (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "triple") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))
  (core instance $i (instantiate $m))
  (func $double (param "x" u32) (result u32) (canon lift (core func $i "double")))
  (func $triple (param "x" u32) (result u32) (canon lift (core func $i "triple")))
  (instance $a (export "double" (func $double)) (export "twice" (func $double)))
  (instance $b (export "twice" (func $triple)))
  (export "my:math/a@1.0.0" (instance $a))
  (export "my:math/b@1.0.0" (instance $b))
)
"""


@pytest.fixture(scope="module")
def shapes_component(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SHAPES_WIT as a component with a dummy core module (`wasm-tools component embed --dummy`)."""
    tool = shutil.which("wasm-tools")
    if tool is None:
        pytest.skip("wasm-tools is not installed (pip install -e .[test])")
    work = tmp_path_factory.mktemp("shapes")
    (work / "app.wit").write_text(SHAPES_WIT)
    for command in (
        [tool, "component", "embed", "--dummy", "app.wit", "-w", "app", "-o", "core.wasm"],
        [tool, "component", "new", "core.wasm", "-o", "app.wasm"],
    ):
        subprocess.run(command, cwd=work, check=True, capture_output=True, timeout=120)
    return work / "app.wasm"


@pytest.fixture
def interfaces_file(tmp_path: Path) -> Path:
    path = tmp_path / "interfaces.wat"
    path.write_text(INTERFACES_WAT)
    return path


def test_version_flags(capsys: pytest.CaptureFixture[str]) -> None:
    import wasmcomponent
    from wasmcomponent import cli

    for flag in ("--version", "-V"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([flag])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"wasmcomponent {wasmcomponent.__version__} (")
        assert f"wasmtime-py {importlib.metadata.version('wasmtime')}" in out
    result = run_cli("wasmcomponent", "--version")
    assert result.returncode == 0 and result.stdout.startswith("wasmcomponent ")


def test_unknown_function_lists_the_exports(backend: str, math_file: Path) -> None:
    result = run_cli(backend, "run", "--invoke", "missing()", str(math_file))
    assert (result.returncode, result.stdout) == (1, "")
    lines = result.stderr.splitlines()
    assert lines[0] == "error: no exported function named `missing`" and lines[1] == "exported functions:"
    assert sorted(lines[2:]) == sorted(
        ["  is-even: func(x: u32) -> bool", "  nothing: func()", "  boom: func()", "  math#double: func(x: u32) -> u32"]
    )
    for call, first in [
        ("math#nope(1)", "error: no exported function named `math#nope`"),
        ("nope#double(1)", "error: no exported instance named `nope`"),
    ]:
        result = run_cli(backend, "run", "--invoke", call, str(math_file))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[:2] == [first, "exported functions:"]
        assert "  math#double: func(x: u32) -> u32" in result.stderr.splitlines()


def test_unknown_function_lists_interface_exports_with_named_types(shapes_component: Path) -> None:
    result = run_cli("wasmcomponent", "run", "--invoke", "nope()", str(shapes_component))
    assert result.returncode == 1
    listed = result.stderr.splitlines()[2:]
    assert "  greet: func(name: string) -> string" in listed
    assert "  my:pkg/shapes@1.0.0#center: func(s: shape) -> option<point>" in listed
    assert "  my:pkg/shapes@1.0.0#paint: func(c: borrow<canvas>, at: list<point>) -> tuple<u32, bool>" in listed
    assert not any("[method]" in line or "[constructor]" in line for line in listed)  # not callable by name


@pytest.mark.parametrize(
    ("call", "stdout"),
    [("double(21)", "42\n"), ("my:math/b@1.0.0#twice(5)", "15\n"), ("my:math/a@1.0.0#twice(5)", "10\n")],
)
def test_unique_function_name_needs_no_interface(backend: str, interfaces_file: Path, call: str, stdout: str) -> None:
    result = run_cli(backend, "run", "--invoke", call, str(interfaces_file))
    assert (result.returncode, result.stdout, result.stderr) == (0, stdout, "")


def test_ambiguous_function_name_lists_the_candidates(backend: str, interfaces_file: Path) -> None:
    result = run_cli(backend, "run", "--invoke", "twice(5)", str(interfaces_file))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: several exported instances have a function named `twice`; "
        "write one of: `my:math/a@1.0.0#twice`, `my:math/b@1.0.0#twice`\n"
    )


def test_options_after_the_component_belong_to_the_guest(backend: str) -> None:
    """`run FILE --invoke ...` (the wasmtime convention makes `--invoke` a guest argument): a usage error with the fix."""
    result = run_cli(backend, "run", str(HELLO), "--invoke", 'greet("x")')
    assert (result.returncode, result.stdout) == (2, "")
    assert "the component exports no `wasi:cli/run`" in result.stderr
    assert "`--invoke` after the component name is an argument for the guest" in result.stderr
    assert f"wasmcomponent run --invoke 'greet(\"x\")' {HELLO}" in result.stderr
    assert result.stderr.count("\n") == 1


def test_split_of_guest_arguments() -> None:
    from wasmcomponent.cli import _parser, _split_guest_args

    _, run_parser = _parser()
    cases = {
        ("run", "app.wasm", "a", "b"): (["run", "app.wasm"], ["a", "b"]),
        ("run", "app.wasm", "--", "a", "b"): (["run", "app.wasm"], ["a", "b"]),
        ("run", "app.wasm", "a", "--", "--dir", "x"): (["run", "app.wasm"], ["a", "--", "--dir", "x"]),
        ("run", "--dir", "d", "--env", "K=V", "--no-cache", "app.wasm", "--env", "x"): (
            ["run", "--dir", "d", "--env", "K=V", "--no-cache", "app.wasm"],
            ["--env", "x"],
        ),
        ("run", "--invoke=f()", "app.wasm", "-h"): (["run", "--invoke=f()", "app.wasm"], ["-h"]),
        ("run", "--argv0", "prog", "--", "app.wasm", "x"): (["run", "--argv0", "prog", "--", "app.wasm"], ["x"]),
        ("inspect", "app.wasm"): (["inspect", "app.wasm"], []),
    }
    for argv, expected in cases.items():
        assert _split_guest_args(list(argv), run_parser) == expected, argv


def test_positional_guest_arguments_reach_a_command(capfd: pytest.CaptureFixture[str]) -> None:
    from wasi_guests import build
    from wasmcomponent import cli

    command = build("command")
    for argv, printed in [
        (["run", str(command), "a", "b"], "command running: a b\n"),
        (["run", str(command), "--", "a", "b"], "command running: a b\n"),
        (["run", str(command), "x", "--env", "K=V", "--", "y"], "command running: x --env K=V -- y\n"),
        (["run", "--env", "K=V", "--", str(command), "z"], "command running: z\n"),
    ]:
        assert cli.main(argv) == 0
        out, err = capfd.readouterr()
        assert out == printed, argv
        assert "error" not in err
    assert cli.main(["run", str(command), "err"]) == 1  # wasi:cli/run returned err
    assert capfd.readouterr().out == "command running: err\n"
    # `run` alone finds `wasi:cli/run@0.2.0#run`; guest arguments still follow FILE.
    assert cli.main(["run", "--invoke", "run()", str(command), "q"]) == 0
    assert capfd.readouterr().out == "command running: q\nok\n"


def test_guest_argv_is_base_name_then_arguments(capfd: pytest.CaptureFixture[str]) -> None:
    from wasi_guests import build
    from wasmcomponent import cli
    from wasmcomponent.types import model
    from wasmcomponent.wave import format_value

    probe = build("probe")
    assert cli.main(["run", "--invoke", "env-and-args()", "--env", "PROBE_A=1", str(probe), "x", "-y"]) == 0
    lines = capfd.readouterr().out.splitlines()  # the guest's own prints, then the WAVE result
    argv = [probe.name, "x", "-y"]
    assert lines[0] == f"args {argv!r}"
    assert lines[-1] == format_value(repr((argv, [("PROBE_A", "1")])), model.STRING)
    assert cli.main(["run", "--argv0", "prog", "--invoke", "env-and-args()", str(probe)]) == 0
    assert capfd.readouterr().out.splitlines()[0] == "args ['prog']"


def test_unwritable_cache_is_reported_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    paths = {
        "WASMCOMPONENT_CACHE_DIR": str(blocker / "cache"),
        "WASMCOMPONENT_CACHE_KEY_FILE": str(tmp_path / "config" / "cache.key"),
    }
    result = run_cli("wasmcomponent", "run", "--invoke", 'greet("x")', str(HELLO), extra_env=paths)
    assert (result.returncode, result.stdout) == (0, '"Hello, x!"\n')
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"wasmcomponent: cannot write the compile cache in {blocker / 'cache'} (")
    assert "WASMCOMPONENT_CACHE_DIR" in result.stderr


def test_unwritable_cache_warns_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from wasmcomponent.runtime import cache

    monkeypatch.setattr(cache, "_UNWRITABLE_REPORTED", set())
    monkeypatch.setenv("WASMCOMPONENT_CACHE_KEY_FILE", str(tmp_path / "config" / "cache.key"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    stream = io.StringIO()
    for _ in range(3):
        cache.load_component(wasmtime.Engine(), HELLO, blocker / "cache", progress=stream)
    assert stream.getvalue().count("cannot write the compile cache") == 1


class _ImmediateTimer:
    """Stands in for ``threading.Timer``: fires on ``start()``, so the progress line is deterministic."""

    def __init__(self, interval: float, function: Any) -> None:
        self.function = function
        self.daemon = False

    def start(self) -> None:
        self.function()

    def cancel(self) -> None:
        pass


def test_no_cache_still_reports_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wasmcomponent import cli
    from wasmcomponent.runtime import cache

    monkeypatch.setattr(cache.threading, "Timer", _ImmediateTimer)
    monkeypatch.setenv("WASMCOMPONENT_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["run", "--no-cache", "--invoke", 'greet("x")', str(HELLO)]) == 0
    out, err = capsys.readouterr()
    assert out == '"Hello, x!"\n'
    assert err.splitlines()[0] == f"wasmcomponent: compiling {HELLO} (compile cache off)..."
    assert err.splitlines()[1].startswith(f"wasmcomponent: compiled {HELLO} in ")
    assert not (tmp_path / "cache").exists()  # --no-cache: nothing written


def test_fast_compile_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is printed while the PROGRESS_AFTER delay has not passed (here: a timer that never fires)."""
    import io

    from wasmcomponent.runtime import cache

    started: list[Any] = []

    class NeverFires(_ImmediateTimer):
        def start(self) -> None:
            started.append(self)

    monkeypatch.setattr(cache.threading, "Timer", NeverFires)
    stream = io.StringIO()
    cache.compile_with_progress(wasmtime.Engine(), HELLO, progress=stream)
    assert len(started) == 1 and stream.getvalue() == ""


def test_inspect_hello(backend: str) -> None:
    result = run_cli(backend, "inspect", "examples/hello.wat")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "export greet: func(name: string) -> string;\n"


def test_inspect_interfaces_records_variants_resources(backend: str, shapes_component: Path) -> None:
    result = run_cli(backend, "inspect", str(shapes_component))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == SHAPES_INSPECT


def test_inspect_one_side(shapes_component: Path) -> None:
    imports, exports = SHAPES_INSPECT.split("export greet", 1)
    result = run_cli("wasmcomponent", "inspect", "--imports", str(shapes_component))
    assert (result.returncode, result.stdout) == (0, imports)
    result = run_cli("wasmcomponent", "inspect", "--exports", str(shapes_component))
    assert (result.returncode, result.stdout) == (0, "export greet" + exports)  # `use` still names the export


def test_inspect_componentize_py_command() -> None:
    from wasi_guests import build

    command = build("command")
    result = run_cli("wasmcomponent", "inspect", str(command))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    version = r"@0\.2\.\d+"  # componentize-py's WASI imports
    environment = rf"import wasi:cli/environment{version}: interface {{\n  get-environment: func\(\) -> list<tuple<string, string>>;\n"
    assert re.search(environment, text)
    assert "export wasi:cli/run@0.2.0: interface {\n  run: func() -> result;\n}\n" in text
    assert re.search(rf"  use wasi:io/poll{version}\.{{pollable}};\n", text)  # monotonic-clock shares io's resource
    assert "  resource output-stream {\n" in text and "    blocking-flush: func() -> result<_, stream-error>;\n" in text


def test_wit_is_what_wasm_tools_prints(backend: str, shapes_component: Path) -> None:
    result = run_cli(backend, "wit", str(shapes_component))
    assert (result.returncode, result.stderr) == (0, "")
    expected = subprocess.run(
        [str(shutil.which("wasm-tools")), "component", "wit", str(shapes_component)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    assert result.stdout == expected
    assert "  export my:pkg/shapes@1.0.0;\n" in result.stdout


def test_wit_of_component_text_and_errors(tmp_path: Path) -> None:
    result = run_cli("wasmcomponent", "wit", "--no-docs", "examples/hello.wat")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "package root:component;\n\nworld root {\n  export greet: func(name: string) -> string;\n}\n"
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"\0asm\x0d\0\x01\0\xff")
    for path in (str(bogus), str(tmp_path / "missing.wasm")):
        result = run_cli("wasmcomponent", "wit", path)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_inspect_lists_what_wit_cannot_say(tmp_path: Path) -> None:
    """A core module export has no WIT: inspect lists the structure, `wit` fails as wasm-tools does."""
    odd = tmp_path / "odd.wat"
    odd.write_text('(component (core module $m) (import "f" (func (param "x" u32))) (export "m" (core module $m)))')
    result = run_cli("wasmcomponent", "inspect", str(odd))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "import f: func(x: u32);\nexport m: core module {\n}\n"
    result = run_cli("wasmcomponent", "wit", str(odd))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: cannot print WIT for export `m`: component export `m` was not a function or instance\n"


def test_inspect_errors_are_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"\0asm\x0d\0\x01\0\xff")
    result = run_cli("wasmcomponent", "inspect", str(bogus))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_bindgen_and_serve_are_commands(tmp_path: Path) -> None:
    """`wasmcomponent bindgen` writes a package; `wasmcomponent serve` refuses a non-proxy component.

    ``serve`` runs in a child process: it configures the process's logging for a server.
    """
    from wasmcomponent.cli import main

    hello = str(Path(__file__).resolve().parents[1] / "examples" / "hello.wat")
    assert main(["bindgen", hello, "--out", str(tmp_path), "--name", "hello_bindings"]) == 0
    assert (tmp_path / "hello_bindings" / "__init__.py").is_file()
    done = subprocess.run(
        [sys.executable, "-m", "wasmcomponent", "serve", hello, "--addr", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1
    assert "needs a wasi:http/proxy component" in done.stderr
