"""Benchmark typed bindings (`wasmcomponent bindgen`) and `Func.typed` against the plain `Func` call.

Timed like `bench.py` (round-robin batches, medians per call, ratios from
the same run, in one process):

* bindings: exports of the all-types componentize-py guest
  (tests/guests/bindgen_all, built and cached as the tests do), each called
  through the generated package with typed values (`world.kinds.echo_point(
  Point(1, 2))`) and through the untyped `Func` with the runtime's values
  (`func(store, Record(x=1, y=2))`).  The ratio is what the generated
  conversions add; the issue's bound is 1.3x.
* the same conversions against identity functions written in core wasm
  (tests/components.py), where the guest costs next to nothing: the
  conversions' worst case.
* typed: `echo-list(list<u32>)` (10 and 1,000 elements) and `add(u32, u32)`
  of bench.py's component, through `Func` and through `Func.typed(...)`.

Usage:
  python benchmarks/bench_bindgen.py [--quick] [--only NAME] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import wasmtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
import bench as BB  # noqa: E402 - shared timing and formatting

import components as C  # noqa: E402 - the tests' component builders

Thunk = Callable[[], Any]


@dataclass
class Pair:
    """One operation: the untyped call, the typed one, and a check that both give the same value."""

    name: str
    untyped: Thunk
    typed: Thunk
    same: Callable[[Any, Any], bool]


def build_guest() -> Path:
    """The all-types guest, built by componentize-py and cached as tests/test_bindgen.py does."""
    import wasi_guests

    tool = wasi_guests._componentize_py()
    if tool is None:
        raise SystemExit("componentize-py is not installed (pip install -e .[test])")
    source = wasi_guests.GUESTS / "bindgen_all"
    out = wasi_guests.cache_dir() / f"bindgen_all-{wasi_guests._source_key(source, tool)}.wasm"
    if not out.exists():
        with tempfile.TemporaryDirectory() as work:  # built from a copy: the tree stays clean
            shutil.copytree(source, Path(work) / "guest")
            subprocess.run([*tool, "-d", "wit", "-w", "all-types", "componentize", "app", "-o",
                            f"{out}.{os.getpid()}"], cwd=Path(work) / "guest", check=True, capture_output=True)
        os.replace(f"{out}.{os.getpid()}", out)
    return out


def binding_pairs(engine: wasmtime.Engine, workdir: Path) -> list[Pair]:
    from wasmcomponent import Component, Linker, Record
    from wasmcomponent.bindgen import generate

    component = Component.from_file(engine, build_guest())
    for relative, source in generate(component, "bench_bindings").items():
        path = workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    sys.path.insert(0, str(workdir))
    pkg = importlib.import_module("bench_bindings")
    k = importlib.import_module("bench_bindings.exports.kinds")
    h = importlib.import_module("bench_bindings.imports.host_api")

    class HostApi:
        def log(self, level: Any, msg: str) -> None:
            pass

        def lookup(self, key: str) -> Any:
            return h.Entry(key, 1)

        def scale(self, values: list[int], by: int) -> list[int]:
            return [v * by for v in values]

        def parse(self, s: str) -> int:
            return 0

    class Host:
        host_api = HostApi()

        def shout(self, s: str) -> str:
            return s

    linker = Linker(engine)
    linker.add_wasip2()
    pkg.Root.add_to_linker(linker, Host())
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    instance = linker.instantiate(store, component)
    world = pkg.Root(store, instance)
    within = instance.get_export_index(store, "test:bindgen/kinds@0.1.0")

    def func(name: str) -> Any:
        return instance.get_func(store, instance.get_export_index(store, name, within))

    t = world.kinds
    point, rpoint = k.Point(1, 2), Record(x=1, y=2)
    person = k.Person("Ada Lovelace", 36, ["math", "engines"], k.Point(5, 6), k.Color.DARK_BLUE,
                      k.Perms.READ | k.Perms.WRITE)
    rperson = Record(**{"full-name": "Ada Lovelace", "age": 36, "tags": ["math", "engines"], "home": Record(x=5, y=6),
                        "favourite": "dark-blue", "perms": {"read", "write"}})
    numbers = list(range(100))
    shapes = [k.Shape_Circle(1.5), k.Shape_Rect(point), k.Shape_Empty()] * 10
    rshapes = [1.5, rpoint, None] * 10
    counter = k.Counter(t, 1)
    greet = instance.get_func(store, "greet")
    f = {name: func(name) for name in ("noop", "echo-string", "echo-list", "echo-point", "echo-person", "echo-color",
                                       "echo-shapes", "echo-option", "divide", "[method]counter.get")}
    eq: Callable[[Any, Any], bool] = lambda a, b: a == b  # noqa: E731
    by_value: Callable[[Any, Any], bool] = lambda a, b: True  # noqa: E731 - checked by the tests
    return [
        Pair("noop()", lambda: f["noop"](store), lambda: t.noop(), eq),
        Pair("echo-string(12 chars)", lambda: f["echo-string"](store, "hello, wörld"),
             lambda: t.echo_string("hello, wörld"), eq),
        Pair("echo-list(100 x u32)", lambda: f["echo-list"](store, numbers), lambda: t.echo_list(numbers), eq),
        Pair("echo-point(record)", lambda: f["echo-point"](store, rpoint), lambda: t.echo_point(point), by_value),
        Pair("echo-person(nested record)", lambda: f["echo-person"](store, rperson), lambda: t.echo_person(person),
             by_value),
        Pair("echo-color(enum)", lambda: f["echo-color"](store, "dark-blue"), lambda: t.echo_color(k.Color.DARK_BLUE),
             by_value),
        Pair("echo-shapes(30 variants)", lambda: f["echo-shapes"](store, rshapes), lambda: t.echo_shapes(shapes),
             by_value),
        Pair("echo-option(some)", lambda: f["echo-option"](store, "x"), lambda: t.echo_option("x"), eq),
        Pair("divide -> result", lambda: f["divide"](store, 7, 2), lambda: t.divide(7, 2), eq),
        Pair("counter.get (resource)", lambda: f["[method]counter.get"](store, counter._handle), lambda: counter.get(),
             eq),
        Pair("greet (root export)", lambda: greet(store, "x") and None,
             lambda: world.greet("x") and None, eq),
    ]


def fast_pairs(engine: wasmtime.Engine, workdir: Path) -> list[Pair]:
    """Identity functions in core wasm (tests/components.py): the guest costs next to nothing."""
    from wasmcomponent import Component, Linker, Record
    from wasmcomponent.bindgen import generate

    point = C.record(x=C.S32, y=C.S32)
    color = C.EnumT(("red", "green", "dark-blue"))
    shape = C.variant(("circle", C.F64), ("rect", point), ("empty", None))
    person = C.record(**{"full-name": C.STRING, "home": C.OptionT(point), "favourite": color})
    built = C.build_component([C.identity_export("echo-point", [("p", point)]),
                               C.identity_export("echo-shapes", [("l", C.ListT(shape))]),
                               C.identity_export("echo-person", [("p", person)]),
                               C.identity_export("echo-color", [("c", color)]),
                               C.identity_export("echo-string", [("s", C.STRING)])])
    component = Component(engine, built.wat)
    for relative, source in generate(component, "bench_fast").items():
        path = workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    fast = importlib.import_module("bench_fast")  # types in order of use: T0 point, T1 shape, T2 color, T3 person
    store = wasmtime.Store(engine)
    instance = Linker(engine).instantiate(store, component)
    world = fast.Root(store, instance)
    f = {name: instance.get_func(store, name) for name in
         ("echo-point", "echo-shapes", "echo-person", "echo-color", "echo-string")}
    p, rp = fast.T0(1, 2), Record(x=1, y=2)
    shapes = [fast.T1_Circle(1.5), fast.T1_Rect(p), fast.T1_Empty()] * 10
    rshapes = [1.5, rp, None] * 10
    someone = fast.T3("Ada Lovelace", p, fast.T2.DARK_BLUE)
    rsomeone = Record(**{"full-name": "Ada Lovelace", "home": rp, "favourite": "dark-blue"})
    yes: Callable[[Any, Any], bool] = lambda a, b: True  # noqa: E731 - checked by the tests
    return [
        Pair("wat echo-string(12 chars)", lambda: f["echo-string"](store, "hello, wörld"),
             lambda: world.echo_string("hello, wörld"), lambda a, b: a == b),
        Pair("wat echo-point(record)", lambda: f["echo-point"](store, rp), lambda: world.echo_point(p), yes),
        Pair("wat echo-color(enum)", lambda: f["echo-color"](store, "dark-blue"),
             lambda: world.echo_color(fast.T2.DARK_BLUE), yes),
        Pair("wat echo-person(nested record)", lambda: f["echo-person"](store, rsomeone),
             lambda: world.echo_person(someone), yes),
        Pair("wat echo-shapes(30 variants)", lambda: f["echo-shapes"](store, rshapes),
             lambda: world.echo_shapes(shapes), yes),
    ]


def typed_pairs(engine: wasmtime.Engine) -> list[Pair]:
    from wasmcomponent import Component, Linker

    built = C.build_component([C.identity_export("echo-list", [("x", C.ListT(C.U32))]),
                               *C.simple_component().exports])
    store = wasmtime.Store(engine)
    instance = Linker(engine).instantiate(store, Component(engine, built.wat))
    echo = instance.get_func(store, "echo-list")
    add = instance.get_func(store, "add")
    typed_echo = echo.typed(store, [list[int]], list[int])
    typed_add = add.typed(store, [int, int], int)
    ten, thousand = list(range(10)), list(range(1000))
    eq: Callable[[Any, Any], bool] = lambda a, b: a == b  # noqa: E731
    return [
        Pair("Func.typed echo-list(10 x u32)", lambda: echo(store, ten), lambda: typed_echo(store, ten), eq),
        Pair("Func.typed echo-list(1000 x u32)", lambda: echo(store, thousand), lambda: typed_echo(store, thousand),
             eq),
        Pair("Func.typed add(u32, u32)", lambda: add(store, 2, 3), lambda: typed_add(store, 2, 3), eq),
    ]


def table(pairs: list[Pair], settings: BB.Settings, only: list[str], labels: tuple[str, str]) -> str:
    lines = [f"| operation | {labels[0]} | {labels[1]} | ratio |", "|---|---:|---:|---:|"]
    for pair in pairs:
        if only and not any(n in pair.name for n in only):
            continue
        assert pair.same(pair.untyped(), pair.typed()), pair.name
        print(f"... {pair.name}", file=sys.stderr, flush=True)
        times = BB.measure({"untyped": pair.untyped, "typed": pair.typed}, settings)
        lines.append(f"| {pair.name} | {BB.fmt_time(times['untyped'])} | {BB.fmt_time(times['typed'])} | "
                     f"{times['typed'] / times['untyped']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run both groups and print the Markdown tables."""
    parser = BB.common_options(__doc__.split("\n\n")[0], "default 3, quick 0.5", 3)
    args: argparse.Namespace = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (0.5 if args.quick else 3.0)
    settings = BB.Settings(budget=budget, batch_target=0.005 if args.quick else 0.02,
                           min_samples=args.min_samples, max_samples=15 if args.quick else 41)
    engine = wasmtime.Engine()
    with tempfile.TemporaryDirectory() as workdir:
        parts = [
            BB.environment_line(),
            "Typed bindings against the untyped `Func` (the same export, same instance):\n",
            table(binding_pairs(engine, Path(workdir)), settings, args.only, ("`Func` call", "bindings call")),
            "The same against identity functions in core wasm (the conversions' worst case):\n",
            table(fast_pairs(engine, Path(workdir)), settings, args.only, ("`Func` call", "bindings call")),
            "`Func.typed` against `Func`:\n",
            table(typed_pairs(engine), settings, args.only, ("`Func`", "`Func.typed`")),
        ]
    text = "\n".join(parts)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
