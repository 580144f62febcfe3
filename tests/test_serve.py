"""``wasmcomponent serve``: a real server process on loopback, and its command line.

One server process (``python -m wasmcomponent.serve GUEST --addr 127.0.0.1:0``)
serves the componentize-py ``wasi:http/proxy`` guest of tests/guests/http
(built and cached by ``wasi_guests.build``, shared with the other HTTP tests)
for the whole module; the port is the one its startup line names, so no
fixed port can collide.  Its compiled component is cached in the test cache.
Checked over real HTTP: status, headers and body; a 64 KiB echo; a 404; a
trap before the response that becomes a 500 and is logged; 32 concurrent
requests each answered with its own data; a 3 MiB body streamed past the
host's 1 MiB window; an outgoing request from the guest (allowed by default,
as in ``wasmtime serve``); the guest's stdout and stderr in
the server's stdout and stderr with ``wasmtime serve``'s prefixes; and,
last, SIGINT (Ctrl-C) ending the process with status 0 and no traceback.

The command line (``-S``/``--env``/``--dir``/``-H``/``--addr`` parsing, the
per-request WASI configuration, the errors at startup and without uvicorn)
is checked in-process or with short-lived processes on tiny components.
A second, short-lived server runs the hand-written WAT guest of
tests/guests/serve_hello (built by wasm-tools), which needs no componentize-py.
Every wait has a deadline, and the servers are killed in teardown.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Optional

import pytest

from wasmcomponent.serve import (
    ServeError,
    build_app,
    config_factory,
    parse_addr,
    parse_options,
)
from wasmcomponent.wasi.http.asgi import AsgiApp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasi_guests import build, cache_dir, loopback_http_server

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 300.0  # the first run compiles the 20 MB guest (about 10 s here, more on a busy CI machine)
TIMEOUT = 30.0
SERVING = re.compile(r"Serving HTTP on http://127\.0\.0\.1:(\d+)/")


def _env() -> dict[str, str]:
    """The server's environment: its compile cache and key inside the test cache."""
    env = dict(os.environ)
    env["WASMCOMPONENT_CACHE_DIR"] = str(cache_dir() / "serve-compile-cache")
    env["WASMCOMPONENT_CACHE_KEY_FILE"] = str(cache_dir() / "serve-compile-cache.key")
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    def request(
        self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict[str, str]] = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def wait_for_log(self, which: str, text: str) -> str:
        """The server's stdout or stderr once it contains ``text`` (the guest's lines arrive as it runs)."""
        path = self.stdout if which == "stdout" else self.stderr
        deadline = time.monotonic() + TIMEOUT
        while True:
            content = path.read_text(errors="replace")
            if text in content or time.monotonic() > deadline:
                return content
            time.sleep(0.05)


def _start(args: list[str], out_dir: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    stdout, stderr = out_dir / "server.stdout", out_dir / "server.stderr"
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmcomponent.serve", *args],
        stdout=stdout.open("wb"),
        stderr=stderr.open("wb"),
        env=_env(),
        cwd=ROOT,
    )
    return process, stdout, stderr


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(TIMEOUT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("uvicorn", reason="`serve` needs uvicorn (pip install -e '.[test]')")
    guest = build("http")
    process, stdout, stderr = _start([str(guest), "--addr", "127.0.0.1:0"], tmp_path_factory.mktemp("serve"))
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            match = SERVING.search(stderr.read_text(errors="replace"))
            if match is not None:
                break
            assert process.poll() is None, f"the server exited: {stderr.read_text()}"
            assert time.monotonic() < deadline, f"no startup line in {STARTUP_TIMEOUT} s: {stderr.read_text()}"
            time.sleep(0.05)
        yield Server(process, int(match.group(1)), stdout, stderr)
    finally:
        _stop(process)


# ------------------------------------------------------------------ over HTTP


def test_answers_status_headers_and_body(server: Server) -> None:
    status, headers, body = server.request("GET", "/hello?x=1", headers={"x-test": "abc"})
    assert status == 200
    assert headers["content-type"] == "text/plain"
    assert headers["x-guest"] == "componentize-py"
    expected = f"hello GET /hello?x=1 scheme=Http authority=127.0.0.1:{server.port} x-test=abc host-visible=False"
    assert body.decode() == expected


def test_echoes_a_64k_body(server: Server) -> None:
    payload = os.urandom(64 << 10)
    status, headers, body = server.request("POST", "/echo", payload, {"content-type": "application/octet-stream"})
    assert (status, headers["x-length"]) == (200, str(len(payload)))
    assert body == payload


def test_unknown_path_is_the_guests_404(server: Server) -> None:
    assert server.request("GET", "/no/such/page")[::2] == (404, b"not found")


def test_trap_before_the_response_is_a_500_and_logged(server: Server) -> None:
    status, headers, body = server.request("GET", "/trap")
    assert status == 500
    assert body == b"guest never invoked `response-outparam::set` method"
    log = server.wait_for_log("stderr", "guest failure before set")
    errors = [line for line in log.splitlines() if line.startswith("error [")]
    assert any("guest never invoked `response-outparam::set` method: " in line for line in errors), log
    # the guest's traceback went to stderr with the same request number as the error
    number = re.search(r"stderr \[(\d+)\] :: RuntimeError: guest failure before set", log)
    assert number is not None, log
    assert any(line.startswith(f"error [{number.group(1)}] :: ") for line in errors)
    # and the server goes on serving
    assert server.request("GET", "/hello")[0] == 200


def test_32_concurrent_requests(server: Server) -> None:
    def one(i: int) -> tuple[int, bytes]:
        status, _, body = server.request("GET", f"/hello?n={i}", headers={"x-test": f"client-{i}"})
        return status, body

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32), timeout=TIMEOUT * 4))
    for i, (status, body) in enumerate(results):
        assert status == 200
        assert body.decode().startswith(f"hello GET /hello?n={i} ") and body.decode().endswith(
            f" x-test=client-{i} host-visible=False"
        )


def test_guest_output_reaches_the_server_log(server: Server) -> None:
    assert server.request("GET", "/print?tag=LOGTAG&n=2")[::2] == (200, b"LOGTAG")
    stdout = server.wait_for_log("stdout", "LOGTAG tail")
    stderr = server.wait_for_log("stderr", "LOGTAG err 1")
    out = re.findall(r"^stdout \[(\d+)\] :: (LOGTAG .*)$", stdout, re.M)
    err = re.findall(r"^stderr \[(\d+)\] :: (LOGTAG .*)$", stderr, re.M)
    assert [text for _, text in out] == ["LOGTAG out 0 end", "LOGTAG out 1 end", "LOGTAG print", "LOGTAG tail"]
    assert [text for _, text in err] == ["LOGTAG err 0", "LOGTAG err 1"]
    assert len({number for number, _ in out + err}) == 1  # one request, one number


def test_streams_a_body_larger_than_the_window(server: Server) -> None:
    status, headers, body = server.request("GET", "/big?mib=3")
    assert (status, headers["content-type"]) == (200, "application/octet-stream")
    assert body == bytes(range(256)) * (3 * 4096)


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"upstream says hi"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_outgoing_http_is_allowed_as_in_wasmtime_serve(server: Server) -> None:
    with loopback_http_server(_Upstream) as port:
        status, _, body = server.request("GET", f"/fetch?target=127.0.0.1:{port}&path=/x")
    assert (status, body) == (200, b"status=200 header= body=upstream says hi")


def test_ctrl_c_stops_cleanly(server: Server) -> None:
    """Last in the module: it stops the shared server."""
    assert server.request("GET", "/hello")[0] == 200
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(TIMEOUT) == 0
    # no traceback from the server itself: every Traceback line belongs to a guest's stderr
    for line in server.stderr.read_text().splitlines():
        if "Traceback" in line:
            assert line.startswith("stderr ["), line


def _wat_guest() -> Path:
    """tests/guests/serve_hello (hand-written WAT) built by its build.py; skips without wasm-tools."""
    spec = importlib.util.spec_from_file_location("serve_hello_build", ROOT / "tests/guests/serve_hello/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return Path(module.build(cache_dir()))
    except FileNotFoundError:
        pytest.skip("wasm-tools is not installed (pip install -e '.[test]')")


def test_serves_a_hand_written_proxy_component(tmp_path: Path) -> None:
    """A tiny WAT guest (no componentize-py): answers, 32 at once, then SIGINT ends it with status 0."""
    pytest.importorskip("uvicorn", reason="`serve` needs uvicorn (pip install -e '.[test]')")
    process, stdout, stderr = _start([str(_wat_guest()), "--addr", "127.0.0.1:0"], tmp_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (match := SERVING.search(stderr.read_text())) is None:
            assert process.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
        server = Server(process, int(match.group(1)), stdout, stderr)
        assert server.request("GET", "/anything")[::2] == (200, b"hello from wat\n")
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda i: server.request("POST", f"/{i}", b"x" * i), range(32), timeout=TIMEOUT))
        assert [(status, body) for status, _, body in results] == [(200, b"hello from wat\n")] * 32
        process.send_signal(signal.SIGINT)
        assert process.wait(TIMEOUT) == 0
        lines = [line for line in stderr.read_text().splitlines() if not line.startswith("wasmcomponent: compil")]
        assert lines == [f"Serving HTTP on http://127.0.0.1:{server.port}/"]  # nothing else: no traceback
    finally:
        _stop(process)


# ------------------------------------------------------------------ command line


def test_options_follow_wasmtime_serve() -> None:
    options = parse_options(["app.wasm"])
    assert (options.host, options.port) == ("0.0.0.0", 8080)
    assert options.flags["http"] and not options.flags["inherit-network"]
    assert not options.flags["allow-ip-name-lookup"]
    options = parse_options([
        "app.wasm", "--addr", "[::1]:0", "--env", "A=1", "--env", "SERVE_TEST_INHERITED",
        "--dir", "/data::/d", "--dir", "/x", "-S", "inherit-network", "-S", "udp=n",
        "-S", "http=no", "-S", "max-resources=100", "-H", "X-Extra:  v ", "--no-logging-prefix",
    ])
    assert (options.host, options.port) == ("::1", 0)
    assert options.env == [("A", "1"), ("SERVE_TEST_INHERITED", os.environ.get("SERVE_TEST_INHERITED", ""))]
    assert options.dirs == [("/data", "/d"), ("/x", "/x")]
    assert options.flags["inherit-network"] and not options.flags["udp"] and not options.flags["http"]
    assert options.numbers == {"max-resources": 100}
    assert options.headers == [(b"x-extra", b"v")]
    assert not options.logging_prefix


@pytest.mark.parametrize(
    "args, message",
    [
        (["-S", "nope"], "unsupported -S option `nope`"),
        (["-S", "tcp=maybe"], "expected `tcp`, `tcp=y` or `tcp=n`"),
        (["-S", "max-resources=lots"], "expected `max-resources=N`"),
        (["--addr", "8080"], "invalid --addr `8080`"),
        (["--addr", "host:99999"], "invalid --addr"),
        (["-H", "no-colon"], "expected `NAME: VALUE`"),
        (["-H", "x-name: \u65e5\u672c"], "a header is Latin-1 text"),
    ],
)
def test_invalid_options_are_usage_errors(args: list[str], message: str) -> None:
    with pytest.raises(ServeError, match=re.escape(message)) as info:
        parse_options(["app.wasm", *args])
    assert info.value.status == 2


def test_parse_addr() -> None:
    assert parse_addr("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_addr("[::]:80") == ("::", 80)
    assert parse_addr("localhost:1") == ("localhost", 1)


def test_per_request_config(tmp_path: Path) -> None:
    make = config_factory(parse_options(["app.wasm", "--env", "A=1", "--dir", f"{tmp_path}::/d"]))
    first, second = make(), make()
    assert first is not second  # each store consumes its own configuration
    assert first.env == [("A", "1")]
    assert [(p.host_path, p.guest_path) for p in first.preopens] == [(str(tmp_path), "/d")]
    # wasmtime serve's defaults: no sockets, no name lookup, outgoing HTTP allowed
    assert (first.tcp_allowed, first.udp_allowed, first.ip_name_lookup_allowed) == (False, False, False)
    assert first.http_outgoing_allowed
    # -S inherit-network opens TCP/UDP but, as in wasmtime, not name lookup
    net = config_factory(parse_options(["app.wasm", "-S", "inherit-network", "-S", "udp=n", "-S", "http=n"]))()
    assert (net.tcp_allowed, net.udp_allowed, net.ip_name_lookup_allowed) == (True, False, False)
    assert net.socket_addr_check is None and not net.http_outgoing_allowed
    lookup = config_factory(parse_options(["app.wasm", "-S", "allow-ip-name-lookup"]))()
    assert lookup.ip_name_lookup_allowed and not lookup.tcp_allowed


def test_header_option_replaces_the_clients_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-H`` in-process, through the ASGI application (the same guest and compile cache, no server)."""
    guest = build("http")
    for name in ("WASMCOMPONENT_CACHE_DIR", "WASMCOMPONENT_CACHE_KEY_FILE"):
        monkeypatch.setenv(name, _env()[name])
    app = build_app(parse_options([str(guest), "-H", "x-test: from-cli"]))
    status, body = asyncio.run(asyncio.wait_for(_asgi_get(app, "/hello", [(b"x-test", b"from-client")]), TIMEOUT))
    assert status == 200
    assert body.endswith(b" x-test=from-cli host-visible=False")


@pytest.mark.parametrize("limit, overlap", [(None, 2), (1, 1)])
def test_max_concurrent_requests_queues(monkeypatch: pytest.MonkeyPatch, limit: Optional[int], overlap: int) -> None:
    """``--max-concurrent-requests 1``: a second request waits for the first (``wasmtime serve`` queues too)."""
    guest = build("http")
    for name in ("WASMCOMPONENT_CACHE_DIR", "WASMCOMPONENT_CACHE_KEY_FILE"):
        monkeypatch.setenv(name, _env()[name])
    extra = [] if limit is None else ["--max-concurrent-requests", str(limit)]
    app = build_app(parse_options([str(guest), *extra]))
    active, most = [0], [0]
    served = AsgiApp.__call__

    async def counting(self: AsgiApp, scope: Any, receive: Any, send: Any) -> None:
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            await asyncio.sleep(0.05)  # the other request would start now if it may
            await served(self, scope, receive, send)
        finally:
            active[0] -= 1

    monkeypatch.setattr(AsgiApp, "__call__", counting)
    async def two_requests() -> list[tuple[int, bytes]]:
        return list(await asyncio.gather(_asgi_get(app, "/hello"), _asgi_get(app, "/hello")))

    statuses = asyncio.run(asyncio.wait_for(two_requests(), TIMEOUT))
    assert [status for status, _ in statuses] == [200, 200]
    assert most[0] == overlap


async def _asgi_get(app: Any, path: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> tuple[int, bytes]:
    """``(status, body)`` of one GET through the ASGI application."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"example.test"), *headers], "scheme": "http",
    }
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


class _PlainAwaitable:
    """An awaitable that is no coroutine, as some ASGI servers' ``receive()`` returns (granian's)."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message

    def __await__(self) -> Any:
        yield from ()
        return self.message


def test_request_body_from_a_receive_that_is_no_coroutine(monkeypatch: pytest.MonkeyPatch) -> None:
    guest = build("http")
    for name in ("WASMCOMPONENT_CACHE_DIR", "WASMCOMPONENT_CACHE_KEY_FILE"):
        monkeypatch.setenv(name, _env()[name])
    app = build_app(parse_options([str(guest)]))
    payload = os.urandom(20000)
    inbox = [
        {"type": "http.request", "body": payload[:7000], "more_body": True},
        {"type": "http.request", "body": payload[7000:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    def receive() -> _PlainAwaitable:
        return _PlainAwaitable(inbox.pop(0))

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/echo", "raw_path": b"/echo", "query_string": b"",
        "headers": [(b"host", b"example.test"), (b"content-length", str(len(payload)).encode())], "scheme": "http",
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), TIMEOUT))
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == payload


def _run_serve(args: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wasmcomponent.serve", *args],
        capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT,
    )


def test_a_component_without_the_handler_fails_at_startup() -> None:
    result = _run_serve([str(ROOT / "examples" / "hello.wat"), "--addr", "127.0.0.1:0"])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the component does not export wasi:http/incoming-handler@0.2.x:"
        " `serve` needs a wasi:http/proxy component"
    )
    assert "Serving HTTP" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing.wasm", "error: [Errno 2] No such file or directory"),
        (lambda tmp: _write(tmp / "bad.wasm", b"\x00asm\x0d\x00\x01\x00\xff\xff"), "error: malformed section id"),
    ],
)
def test_an_unloadable_component_is_one_error_line(tmp_path: Path, make: Any, message: str) -> None:
    result = _run_serve([str(make(tmp_path)), "--no-cache"])
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_a_missing_dir_fails_at_startup(tmp_path: Path) -> None:
    result = _run_serve([str(ROOT / "examples" / "hello.wat"), "--dir", str(tmp_path / "nope")])
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: failed to open directory `{tmp_path / 'nope'}`"


def test_an_address_in_use_fails_at_startup() -> None:
    pytest.importorskip("uvicorn", reason="`serve` needs uvicorn (pip install -e '.[test]')")
    guest = build("http")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _run_serve([str(guest), "--addr", f"127.0.0.1:{port}"], timeout=STARTUP_TIMEOUT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: failed to bind to 127.0.0.1:{port}: ")
    assert "Serving HTTP" not in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_uvicorn_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"  # as if not installed
        "from wasmcomponent.serve import _parser, main\n"
        f"sys.exit(main(_parser().parse_args([{str(ROOT / 'examples' / 'hello.wat')!r}])))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    assert result.returncode == 1
    assert "uvicorn" in result.stderr and "pip install 'wasmcomponent[serve]'" in result.stderr
    assert "Traceback" not in result.stderr
