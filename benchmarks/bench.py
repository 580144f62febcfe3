"""Benchmark `wasmcomponent` against `wasmtime.component` in one process.

Each operation is timed on both libraries and on two floors measured in the
same run:

* core: the raw core call of the same core function, through `wasmtime.Func`
  on a standalone instance of the component's core module (no lifting or
  lowering at all);
* py: plain Python work every binding has to do for the same data (encode /
  decode, copying bytes of the same size, packing integers).

A third floor, core-unchecked, makes the same core call through
`wasmtime_func_call_unchecked` with a reused slot buffer, skipping the type
reflection `wasmtime.Func.__call__` does on every call.  The floor shown is
the cheaper core call + py.  Timing is round-robin: each round times one
batch per contender, alternating the order between rounds, so drift (CPU
frequency, other load) affects all contenders alike.  Each operation gets a
time budget; batches are sized from a calibration call so that slow
operations (wasmtime-py takes seconds for a 1 MiB `list<u8>`) still collect at
least `--min-samples` samples.  The reported figure is the median time per
call.

Usage:
  python benchmarks/bench.py [--quick] [--only NAME] [--markdown FILE]
  python benchmarks/bench.py --update-readme README.md
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import importlib.metadata
import statistics
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import wasmtime
from wasmtime import _ffi as ffi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_components as B  # noqa: E402

MARK_START = "<!-- bench:start -->"
MARK_END = "<!-- bench:end -->"
REFERENCE = "wasmtime.component"
CANDIDATE = "wasmcomponent"

Thunk = Callable[[], Any]


# --------------------------------------------------------------------------
# Data of the operations


def sized_text(size: int) -> str:
    """Non-ASCII text of exactly `size` UTF-8 bytes (1-, 2-, 3- and 4-byte chars)."""
    unit = "aé€😀"  # 10 bytes
    text = unit * (size // 10) + "a" * (size % 10)
    assert len(text.encode("utf-8")) == size
    return text


SMALL_TEXT = "hello, wörld"
TEXT_1K = sized_text(1024)
TEXT_1M = sized_text(1024 * 1024)
BYTES_1M = bytes(range(256)) * 4096
U32_100K = list(range(100_000))
HOST_CALLS = 1000
PEOPLE = B.person_values()


# --------------------------------------------------------------------------
# Contenders


@dataclass
class Backend:
    """A component API module with the benchmark component instantiated."""

    name: str
    mod: ModuleType
    store: wasmtime.Store
    instance: Any

    def thunk(self, export: str, args: tuple[Any, ...]) -> Thunk:
        """A zero-argument callable doing one call (plus the post-return call)."""
        func = self.instance.get_func(self.store, export)
        store = self.store

        def run() -> Any:
            result = func(store, *args)
            func.post_return(store)
            return result

        return run


def load_backend(name: str, engine: wasmtime.Engine, wat: str, resources: bool = False) -> Backend | None:
    """Instantiate a benchmark component with `name`'s API, or None if unavailable.

    The main component imports `host-fn`; the resource component (`resources`)
    imports the host resource type `thing` instead.
    """
    try:
        mod = importlib.import_module(name)
        mod.Linker  # noqa: B018 - the runtime must be importable, not just the package
    except (ImportError, AttributeError):
        return None
    component = mod.Component(engine, wat)
    store = wasmtime.Store(engine)
    linker = mod.Linker(engine)
    with linker.root() as root:
        if resources:
            root.add_resource("thing", mod.ResourceType.host(B.THING_TYPE), lambda _store, _rep: None)
        else:
            root.add_func("host-fn", lambda _store, x: x + 1)
    return Backend(name, mod, store, linker.instantiate(store, component))


@dataclass
class CoreFloor:
    """The component's core module instantiated on its own with a Python `host-fn`."""

    store: wasmtime.Store
    instance: wasmtime.Instance

    @classmethod
    def create(cls, engine: wasmtime.Engine, core_wat: str) -> CoreFloor:
        """Instantiate the standalone core module."""
        store = wasmtime.Store(engine)
        module = wasmtime.Module(engine, core_wat)
        i32 = wasmtime.ValType.i32()
        host = wasmtime.Func(store, wasmtime.FuncType([i32], [i32]), lambda x: (x + 1) & 0xFFFFFFFF)
        return cls(store, wasmtime.Instance(store, module, [host]))

    @classmethod
    def create_resources(cls, engine: wasmtime.Engine) -> CoreFloor:
        """The resource component's core module, its intrinsics replaced by Python functions.

        `counter-new` returns the rep itself and `thing-drop` does nothing, so
        the floor of `use-thing` includes one core-to-Python call.
        """
        store = wasmtime.Store(engine)
        module = wasmtime.Module(engine, B.RESOURCE_CORE_WAT)
        i32 = wasmtime.ValType.i32()
        new = wasmtime.Func(store, wasmtime.FuncType([i32], [i32]), lambda rep: rep)
        drop = wasmtime.Func(store, wasmtime.FuncType([i32], []), lambda _handle: None)
        return cls(store, wasmtime.Instance(store, module, [new, drop]))

    def export(self, name: str) -> Any:
        """A core export by name."""
        return self.instance.exports(self.store)[name]

    def place(self, data: bytes) -> int:
        """Copy `data` into guest memory (allocated once, never freed); return its address."""
        ptr = int(self.export("cabi_realloc")(self.store, 0, 0, 8, len(data)))
        self.export("memory").write(self.store, data, ptr)
        return ptr

    def thunk(self, export: str, args: tuple[Any, ...]) -> Thunk:
        """A zero-argument callable doing one core call through `wasmtime.Func.__call__`."""
        func = self.export(export)
        store = self.store
        return lambda: func(store, *args)

    def unchecked_thunk(self, export: str, args: tuple[int, ...]) -> Thunk:
        """One core call through `wasmtime_func_call_unchecked` with a reused slot buffer.

        `wasmtime.Func.__call__` reflects the function type on every call
        (tens of µs for a few params); this is the cheapest way to enter wasm
        from Python and so the real floor: every ctypes argument is built
        once, the i32 arguments are written through prebuilt `c_int32` views
        of the slot buffer and the result read through another.  All
        benchmark arguments are i32.
        """
        func = self.export(export)
        ty = func.type(self.store)
        nslots = max(1, len(ty.params), len(ty.results))
        slot = ctypes.sizeof(ffi.wasmtime_val_raw_t)
        buffer = (ffi.wasmtime_val_raw_t * (nslots + 1))()
        base = ctypes.addressof(buffer)
        slots = tuple((ctypes.c_int32.from_buffer(buffer, i * slot), value) for i, value in enumerate(args))
        result = ctypes.c_int32.from_buffer(buffer, 0)
        trap = ctypes.c_void_p.from_buffer(buffer, nslots * slot)
        call_unchecked = ffi.dll["wasmtime_func_call_unchecked"]  # a fresh prototype, no argtypes
        call_unchecked.restype = ctypes.c_void_p
        raw_func = ffi.wasmtime_func_t.from_buffer_copy(func._func)
        native_args = (
            ctypes.c_void_p(ctypes.addressof(self.store._context().contents)),
            ctypes.c_void_p(ctypes.addressof(raw_func)),
            ctypes.c_void_p(base),
            ctypes.c_size_t(nslots),
            ctypes.c_void_p(base + nslots * slot),
        )

        def run() -> int:
            for view, value in slots:
                view.value = value
            if call_unchecked(*native_args) or trap.value:
                raise RuntimeError(f"core call of `{export}` failed")
            _ = buffer, raw_func  # keep the addressed objects alive
            return result.value

        return run


# --------------------------------------------------------------------------
# Operations


def to_record(mod: ModuleType, person: tuple[int, str, list[str]]) -> Any:
    """A person as the backend's `Record`."""
    rec = mod.Record()
    rec.id, rec.name, rec.tags = person
    return rec


def same_people(result: Any) -> bool:
    """Whether a lifted list<person> equals `PEOPLE`."""
    return [(r.id, r.name, r.tags) for r in result] == PEOPLE


def py_string_roundtrip(text: str) -> Thunk:
    """Floor: encode, copy into a buffer, copy out, decode."""
    buffer = bytearray(len(text.encode("utf-8")))

    def run() -> str:
        data = text.encode("utf-8")
        buffer[:len(data)] = data
        return bytes(buffer[:len(data)]).decode("utf-8")

    return run


def py_bytes_roundtrip(data: bytes) -> Thunk:
    """Floor: copy into a buffer and back out."""
    buffer = bytearray(len(data))

    def run() -> bytes:
        buffer[:] = data
        return bytes(buffer)

    return run


def py_pack_u32(values: list[int]) -> Thunk:
    """Floor: convert Python ints to a little-endian u32 buffer."""
    return lambda: array("I", values).tobytes()


def py_people_out() -> Thunk:
    """Floor: decode every string of the records and build the Python objects."""
    encoded = [(i, n.encode("utf-8"), [t.encode("utf-8") for t in tags]) for i, n, tags in PEOPLE]
    return lambda: [(i, n.decode("utf-8"), [t.decode("utf-8") for t in tags])
                    for i, n, tags in encoded]


def py_people_in() -> Thunk:
    """Floor: read every field of the records and encode every string."""
    return lambda: [(i, n.encode("utf-8"), [t.encode("utf-8") for t in tags])
                    for i, n, tags in PEOPLE]


@dataclass
class Op:
    """One benchmarked operation.

    `args(mod)` builds the call's arguments for a backend (`backend_args(backend)`
    instead, when set: arguments that need the instance, such as a resource
    handle); `check(result)` validates a backend's result once before timing;
    `core_args(floor)` prepares the raw core call's arguments; `py_floor()`
    builds the Python floor.  `resources` selects the resource component.
    """

    name: str
    description: str
    export: str
    args: Callable[[ModuleType], tuple[Any, ...]]
    check: Callable[[Any], bool]
    core_args: Callable[[CoreFloor], tuple[Any, ...]] = lambda _floor: ()
    py_floor: Callable[[], Thunk] | None = None
    backend_args: Callable[[Backend], tuple[Any, ...]] | None = None
    resources: bool = False
    core_export: str | None = None  # the core function's name, when it differs from `export`


def string_core_args(text: str) -> Callable[[CoreFloor], tuple[int, int]]:
    """Raw core arguments (ptr, len) of a string placed in guest memory once."""
    def make(floor: CoreFloor) -> tuple[int, int]:
        data = text.encode("utf-8")
        return floor.place(data), len(data)
    return make


def variant_core_args(disc: int, text: str) -> Callable[[CoreFloor], tuple[int, int, int]]:
    """Raw core arguments (discriminant, ptr, len) of a variant with a string payload."""
    def make(floor: CoreFloor) -> tuple[int, int, int]:
        return (disc, *string_core_args(text)(floor))
    return make


def new_counter(backend: Backend) -> tuple[Any]:
    """A `counter` owned by Python, created once through the guest constructor."""
    ctor = backend.instance.get_func(backend.store, "[constructor]counter")
    handle = ctor(backend.store, 0)
    ctor.post_return(backend.store)
    return (handle,)


def counter_core_args(floor: CoreFloor) -> tuple[int]:
    """The raw rep of a counter cell made by the core `ctor`."""
    return (int(floor.export("ctor")(floor.store, 0)),)


def people_core_args(floor: CoreFloor) -> tuple[int, int]:
    """Raw core arguments (ptr, len) of the static record list already in memory."""
    return B.DATA_BASE + 8, len(PEOPLE)


OPS: tuple[Op, ...] = (
    Op("noop", "`noop()`: call overhead only", "noop", lambda m: (), lambda r: r is None),
    Op("add", "`add(u32, u32) -> u32`", "add", lambda m: (20, 22), lambda r: r == 42,
       lambda f: (20, 22)),
    Op("u32x18", "`sum-18(18 × u32) -> u32`: params spilled to memory", "sum-18",
       lambda m: tuple(range(18)), lambda r: r == sum(range(18)),
       lambda f: (f.place(array("I", range(18)).tobytes()),)),
    Op("variant-string", "`echo-variant(variant{text(string),…})` untagged, string payload",
       "echo-variant", lambda m: (SMALL_TEXT,), lambda r: r == SMALL_TEXT,
       variant_core_args(0, SMALL_TEXT), lambda: py_string_roundtrip(SMALL_TEXT)),
    Op("option-string", "`echo-option(option<string>)`, some(string)", "echo-option",
       lambda m: (SMALL_TEXT,), lambda r: r == SMALL_TEXT,
       variant_core_args(1, SMALL_TEXT), lambda: py_string_roundtrip(SMALL_TEXT)),
    Op("result-string", "`echo-result(result<string, u32>)`, ok(string)", "echo-result",
       lambda m: (SMALL_TEXT,), lambda r: r == SMALL_TEXT,
       variant_core_args(0, SMALL_TEXT), lambda: py_string_roundtrip(SMALL_TEXT)),
    Op("string-1k", "`echo-string`, 1 KiB UTF-8 (non-ASCII)", "echo-string",
       lambda m: (TEXT_1K,), lambda r: r == TEXT_1K,
       string_core_args(TEXT_1K), lambda: py_string_roundtrip(TEXT_1K)),
    Op("string-1m", "`echo-string`, 1 MiB UTF-8 (non-ASCII)", "echo-string",
       lambda m: (TEXT_1M,), lambda r: r == TEXT_1M,
       string_core_args(TEXT_1M), lambda: py_string_roundtrip(TEXT_1M)),
    Op("bytes-1m", "`echo-bytes(list<u8>)`, 1 MiB", "echo-bytes",
       lambda m: (BYTES_1M,), lambda r: r == BYTES_1M,
       lambda f: (f.place(BYTES_1M), len(BYTES_1M)), lambda: py_bytes_roundtrip(BYTES_1M)),
    Op("sum-u32-100k", "`sum-u32(list<u32>)`, 100,000 elements summed by the guest", "sum-u32",
       lambda m: (U32_100K,), lambda r: r == sum(U32_100K) & 0xFFFFFFFF,
       lambda f: (f.place(array("I", U32_100K).tobytes()), len(U32_100K)),
       lambda: py_pack_u32(U32_100K)),
    Op("records-return-1k", "`get-records() -> list<record{id, name, tags}>`, 1,000 returned",
       "get-records", lambda m: (), same_people, lambda f: (), py_people_out),
    Op("records-pass-1k", "`count-records(list<record{id, name, tags}>)`, 1,000 passed",
       "count-records", lambda m: ([to_record(m, p) for p in PEOPLE],),
       lambda r: r == len(PEOPLE), people_core_args, py_people_in),
    Op("host-calls-1k", "`call-host(1000)`: guest calls a Python import 1,000 times",
       "call-host", lambda m: (HOST_CALLS,), lambda r: r == sum(range(1, HOST_CALLS + 1)),
       lambda f: (HOST_CALLS,)),
    Op("resource-method", "`[method]counter.incr(borrow<counter>) -> u32` on a guest resource",
       "[method]counter.incr", lambda m: (), lambda r: isinstance(r, int) and r > 0,
       counter_core_args, backend_args=new_counter, resources=True, core_export="incr"),
    Op("resource-host-borrow", "`use-thing(borrow<thing>)`: a host resource lent to the guest",
       "use-thing", lambda m: (m.ResourceHost.borrow(7, B.THING_TYPE),), lambda r: r > 0,
       lambda f: (1,), resources=True),
)


# --------------------------------------------------------------------------
# Timing


@dataclass
class Settings:
    """Timing knobs."""

    budget: float  # seconds per operation (all contenders together)
    batch_target: float  # seconds per timed batch
    min_samples: int
    max_samples: int


def time_batch(thunk: Thunk, count: int) -> float:
    """Seconds per call over `count` consecutive calls."""
    start = time.perf_counter()
    for _ in range(count):
        thunk()
    return (time.perf_counter() - start) / count


def measure(thunks: dict[str, Thunk], settings: Settings) -> dict[str, float]:
    """Median seconds per call of each thunk, timed round-robin."""
    sizes: dict[str, int] = {}
    for name, thunk in thunks.items():
        single = time_batch(thunk, 1)  # warm-up and calibration
        sizes[name] = max(1, int(settings.batch_target / max(single, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in thunks}
    order = list(thunks)
    start = time.perf_counter()
    rounds = 0
    while rounds < settings.max_samples and (
            rounds < settings.min_samples or time.perf_counter() - start < settings.budget):
        for name in order if rounds % 2 == 0 else reversed(order):
            samples[name].append(time_batch(thunks[name], sizes[name]))
        rounds += 1
    return {name: statistics.median(values) for name, values in samples.items()}


@dataclass
class Row:
    """Measured medians (seconds per call) of one operation; None = not available."""

    op: Op
    reference: float | None
    candidate: float | None
    core: float
    core_unchecked: float
    py: float | None
    errors: list[str] = field(default_factory=list)

    @property
    def floor(self) -> float:
        """Cheapest core call + py floor."""
        return min(self.core, self.core_unchecked) + (self.py or 0.0)


def run_op(op: Op, backends: dict[str, Backend | None], floor: CoreFloor,
           settings: Settings) -> Row:
    """Check every contender's result once, then time them together."""
    thunks: dict[str, Thunk] = {}
    errors: list[str] = []
    for name, backend in backends.items():
        if backend is None:
            continue
        args = op.backend_args(backend) if op.backend_args is not None else op.args(backend.mod)
        thunk = backend.thunk(op.export, args)
        try:
            ok = op.check(thunk())
        except Exception as exc:  # a broken backend must not stop the other measurements
            ok = False
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        if ok:
            thunks[name] = thunk
        elif not errors or not errors[-1].startswith(name):
            errors.append(f"{name}: wrong result")
    core_args = op.core_args(floor)
    core_export = op.core_export or op.export
    thunks["core"] = floor.thunk(core_export, core_args)
    thunks["core-unchecked"] = floor.unchecked_thunk(core_export, core_args)
    if op.py_floor is not None:
        thunks["py"] = op.py_floor()
    medians = measure(thunks, settings)
    return Row(op, medians.get(REFERENCE), medians.get(CANDIDATE), medians["core"],
               medians["core-unchecked"], medians.get("py"), errors)


# --------------------------------------------------------------------------
# Output


def fmt_time(seconds: float | None) -> str:
    """Human-readable duration."""
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(num: float | None, den: float | None) -> str:
    """`num / den` as `1.23×`, or n/a."""
    if num is None or den is None or den <= 0:
        return "n/a"
    return f"{num / den:.2f}×"


def markdown_table(rows: list[Row]) -> str:
    """The results table (ratio = wasmcomponent / wasmtime.component)."""
    lines = [
        f"| operation | {REFERENCE} | {CANDIDATE} | ratio | floor | ratio to floor "
        f"| {REFERENCE} / floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.op.name} | {fmt_time(row.reference)} | {fmt_time(row.candidate)} "
            f"| {fmt_ratio(row.candidate, row.reference)} | {fmt_time(row.floor)} "
            f"| {fmt_ratio(row.candidate, row.floor)} | {fmt_ratio(row.reference, row.floor)} |")
    lines.append("")
    lines.append("Floor = cheapest raw core call + plain Python copy/encode of the same data.")
    lines.append("")
    lines.append("| operation | core `wasmtime.Func` | core unchecked | py |")
    lines.append("|---|---:|---:|---:|")
    for row in rows:
        lines.append(f"| {row.op.name} | {fmt_time(row.core)} | {fmt_time(row.core_unchecked)} "
                     f"| {fmt_time(row.py)} |")
    errors = [e for row in rows for e in row.errors]
    if errors:
        lines.append("")
        lines.append("Errors:")
        lines.extend(f"- {e}" for e in errors)
    return "\n".join(lines) + "\n"


def cached_load_line(path: Path, engine: wasmtime.Engine) -> str:
    """Time `load_component` on `path`: the first load (compile + cache write), then cached loads."""
    import tempfile

    from wasmcomponent.runtime.cache import load_component

    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        load_component(engine, path, cache_dir)
        first = time.perf_counter() - start
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            load_component(engine, path, cache_dir)
            seconds.append(time.perf_counter() - start)
    size = path.stat().st_size / 2**20
    return (f"Load of `{path.name}` ({size:.1f} MiB) through `wasmcomponent.runtime.cache.load_component`: "
            f"first {fmt_time(first)} (compile + cache write), cached {fmt_time(statistics.median(seconds))} "
            "(median of 5).\n")


def environment_line() -> str:
    """One line describing the interpreter and library versions."""
    versions = [f"Python {sys.version.split()[0]}", f"wasmtime {package_version('wasmtime')}"]
    try:
        wc = importlib.import_module(CANDIDATE)
        versions.append(f"{CANDIDATE} {getattr(wc, '__version__', package_version(CANDIDATE))}")
    except ImportError:
        versions.append(f"{CANDIDATE} not importable")
    return "Measured with " + ", ".join(versions) + " (medians per call)."


def package_version(name: str) -> str:
    """Installed distribution version of `name`, or `?`."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def update_readme(path: Path, table: str) -> bool:
    """Replace the lines between the bench marker lines of `path` (see `replace_between`)."""
    return replace_between(path, MARK_START, MARK_END, table)


def update_marked(path: Path, start: str, end: str, text: str) -> None:
    """Write ``text`` between the markers of ``path`` and say on stderr whether it was done."""
    if replace_between(path, start, end, text):
        print(f"updated {path}", file=sys.stderr)
    else:
        print(f"no {start} / {end} markers in {path}; unchanged", file=sys.stderr)


def replace_between(path: Path, start: str, end: str, text: str) -> bool:
    """Replace the lines between marker lines `start` and `end` of `path` with `text`.

    Markers count only on lines of their own (so prose quoting them is left
    alone). Returns False, changing nothing, if either marker is absent.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == start]
    if not starts:
        return False
    ends = [i for i, line in enumerate(lines) if line.strip() == end and i > starts[0]]
    if not ends:
        return False
    new = lines[:starts[0] + 1] + [text if text.endswith("\n") else text + "\n"] + lines[ends[0]:]
    path.write_text("".join(new), encoding="utf-8")
    return True


# --------------------------------------------------------------------------
# Entry point


def common_options(description: str, budgets: str, min_samples: int | None) -> argparse.ArgumentParser:
    """The options every benchmark script takes (`budgets` describes the default budget)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run operations whose name contains NAME (repeatable)")
    parser.add_argument("--quick", action="store_true", help="short budgets (rough figures)")
    parser.add_argument("--budget", type=float, default=None, help=f"seconds per operation ({budgets})")
    parser.add_argument("--min-samples", type=int, default=min_samples)
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table here")
    parser.add_argument("--update-readme", type=Path, metavar="FILE",
                        help="replace the table between this script's markers in FILE")
    parser.add_argument("--list", action="store_true", help="list the operations and exit")
    return parser


def choose_ops(args: argparse.Namespace, all_ops: Sequence[Any]) -> tuple[list[Any], int | None]:
    """The operations `--only` selects, or an exit code: 0 after `--list`, 2 when nothing matches."""
    if args.list:
        for op in all_ops:
            print(f"{op.name:20} {op.description}")
        return [], 0
    ops = [op for op in all_ops if not args.only or any(n in op.name for n in args.only)]
    if not ops:
        print(f"no operation matches {args.only}", file=sys.stderr)
        return [], 2
    return ops, None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = common_options(__doc__.split("\n\n")[0], "default 3, quick 0.5", 3)
    parser.add_argument("--cached-load", type=Path, metavar="WASM",
                        help="also time a first and a cached second load of this component file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected operations and print the Markdown table."""
    args = parse_args(argv)
    ops, exit_code = choose_ops(args, OPS)
    if exit_code is not None:
        return exit_code
    budget = args.budget if args.budget is not None else (0.5 if args.quick else 3.0)
    settings = Settings(budget=budget, batch_target=0.005 if args.quick else 0.02,
                        min_samples=args.min_samples, max_samples=15 if args.quick else 41)
    engine = wasmtime.Engine()
    built = B.bench_component()
    backends = {name: load_backend(name, engine, built.wat) for name in (REFERENCE, CANDIDATE)}
    floor = CoreFloor.create(engine, built.core_wat)
    resource_wat = B.resource_component()
    resource_backends = {name: load_backend(name, engine, resource_wat, resources=True)
                         for name in (REFERENCE, CANDIDATE)}
    resource_floor = CoreFloor.create_resources(engine)
    rows = []
    for op in ops:
        print(f"... {op.name}", file=sys.stderr, flush=True)
        if op.resources:
            rows.append(run_op(op, resource_backends, resource_floor, settings))
        else:
            rows.append(run_op(op, backends, floor, settings))
    table = environment_line() + "\n\n" + markdown_table(rows)
    if args.cached_load:
        table += "\n" + cached_load_line(args.cached_load, engine)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.update_readme:
        if update_readme(args.update_readme, table):
            print(f"updated {args.update_readme}", file=sys.stderr)
        else:
            print(f"no {MARK_START} / {MARK_END} markers in {args.update_readme}; unchanged",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
