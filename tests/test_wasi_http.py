"""``wasi:http`` on the Python WASI host: header rules, messages, outgoing requests, serving.

Two levels:

* host level: the registered functions of ``wasmcomponent.wasi.http.types`` /
  ``.client`` called with a store's ``WasiCtx`` (handles are ``ResourceHost``
  values); no guest needed;
* guest level: the componentize-py guest of tests/guests/http (built at test
  time, skipped without componentize-py) served through
  :func:`wasmcomponent.wasi.http.handle_request`, making outgoing requests to a
  loopback ``http.server`` started here.

wasmtime-py 50's ``add_wasip2`` does not define ``wasi:http`` (its
``add_wasi_http`` does), so the side-by-side check covers instantiation only:
wasmtime-py cannot build ``incoming-request`` resources from Python to call
``handle``.  Every server and client wait has a timeout, so no test can hang.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Optional

import pytest
import wasmtime

import wasmcomponent
from wasmcomponent.errors import ComponentTrap
from wasmcomponent.runtime.resources import ResourceHost
from wasmcomponent.types.values import Variant
from wasmcomponent.wasi import WASI_VERSION, WasiConfig, io, set_wasi, wasi_ctx
from wasmcomponent.wasi.ctx import all_interfaces
from wasmcomponent.wasi.http import (
    NEVER_SET,
    HttpRequest,
    HttpResponse,
    HttpSendError,
    client,
    error,
    handle_request,
    types,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasi_guests import build, engine, loopback_http_server

TIMEOUT = 10.0
OK = Variant("ok")
ERR = Variant("err")


def make_ctx(cfg: Optional[WasiConfig] = None) -> Any:
    store = wasmtime.Store()
    set_wasi(store, cfg if cfg is not None else WasiConfig())
    return wasi_ctx(store)


def fields(ctx: Any, pairs: list[tuple[str, bytes]]) -> ResourceHost:
    value = types.fields_from_list(ctx, pairs)
    assert isinstance(value, ResourceHost), value
    return value


def wait(ctx: Any, pollable: ResourceHost) -> None:
    """Block on ``pollable`` from a helper thread with a deadline (never hangs the test run)."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            io.pollable_block(ctx, pollable)
        except BaseException as err:  # pragma: no cover - reported below
            failure.append(err)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(TIMEOUT), "pollable never became ready"
    assert not failure, failure


def request(ctx: Any, authority: Optional[str], path: str = "/", method: str = "get") -> ResourceHost:
    req = types.outgoing_request_new(ctx, fields(ctx, [("x-from", b"host-test")]))
    assert types.outgoing_request_set_method(ctx, req, Variant(method) if method != "PURGE" else Variant("other", method)) == OK
    assert types.outgoing_request_set_scheme(ctx, req, Variant("HTTP")) == OK
    if authority is not None:
        assert types.outgoing_request_set_authority(ctx, req, authority) == OK
    assert types.outgoing_request_set_path_with_query(ctx, req, path) == OK
    return req


def resolve(ctx: Any, future: ResourceHost) -> Any:
    """``future-incoming-response.get`` after waiting: the inner ``result`` value."""
    pollable = types.future_incoming_response_subscribe(ctx, future)
    wait(ctx, pollable)
    ctx.drop(pollable.rep)
    outcome = types.future_incoming_response_get(ctx, future)
    assert outcome.tag == "some"
    # at most once: the outer result is err afterwards
    assert types.future_incoming_response_get(ctx, future) == Variant("some", None)
    return outcome.payload


def read_body(ctx: Any, response: ResourceHost) -> bytes:
    body = types.incoming_response_consume(ctx, response)
    assert isinstance(body, ResourceHost)
    assert types.incoming_response_consume(ctx, response) is None  # at most once
    stream = types.incoming_body_stream(ctx, body)
    assert types.incoming_body_stream(ctx, body) is None  # at most once
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        chunk = io.input_blocking_read(ctx, stream, 1 << 16)
        if chunk is None:
            break
        assert isinstance(chunk, bytes), chunk
        data += chunk
    ctx.drop(stream.rep)
    trailers = types.incoming_body_finish(ctx, body)
    wait(ctx, types.future_trailers_subscribe(ctx, trailers))
    assert types.future_trailers_get(ctx, trailers) == Variant("ok", None)
    assert types.future_trailers_get(ctx, trailers) == ERR
    return data


# ------------------------------------------------------------------ registration


def test_interfaces_are_registered() -> None:
    names = {iface.name: iface for iface in all_interfaces()}
    assert len(names["wasi:http/types"].funcs) == 51  # every stable callable (not send-informational)
    assert list(names["wasi:http/outgoing-handler"].funcs) == ["handle"]
    resources = names["wasi:http/types"].resources
    assert resources["headers"] == resources["trailers"] == resources["fields"]


# ------------------------------------------------------------------ fields


def test_fields_names_are_case_insensitive_and_keep_order() -> None:
    ctx = make_ctx()
    f = types.fields_new(ctx)
    assert types.fields_append(ctx, f, "X-A", b"1") is None
    assert types.fields_append(ctx, f, "content-type", b"text/plain") is None
    assert types.fields_append(ctx, f, "x-a", b"2") is None
    assert types.fields_get(ctx, f, "x-A") == [b"1", b"2"]
    assert types.fields_has(ctx, f, "CONTENT-TYPE")
    assert types.fields_entries(ctx, f) == [("X-A", b"1"), ("content-type", b"text/plain"), ("x-a", b"2")]
    assert types.fields_set(ctx, f, "x-a", [b"3"]) is None
    assert types.fields_entries(ctx, f) == [("x-a", b"3"), ("content-type", b"text/plain")]
    assert types.fields_delete(ctx, f, "X-a") is None
    assert types.fields_entries(ctx, f) == [("content-type", b"text/plain")]


def test_fields_syntax_and_forbidden_headers() -> None:
    ctx = make_ctx()
    f = types.fields_new(ctx)
    for bad_name in ("bad name", "", "x:y", "caf\u00e9"):
        assert types.fields_append(ctx, f, bad_name, b"v") == Variant("invalid-syntax")
        # queries with an invalid name answer empty / false instead of failing
        assert types.fields_get(ctx, f, bad_name) == [] and not types.fields_has(ctx, f, bad_name)
    for bad_value in (b"a\nb", b"a\rb", b"\x00", b"\x7f"):
        assert types.fields_append(ctx, f, "x-v", bad_value) == Variant("invalid-syntax")
    assert types.fields_append(ctx, f, "x-v", b"tab\tand \xff obs-text") is None
    for name in ("Host", "connection", "Transfer-Encoding", "keep-alive", "upgrade", "proxy-authorization"):
        assert types.fields_append(ctx, f, name, b"x") == Variant("forbidden")
        assert types.fields_set(ctx, f, name, [b"x"]) == Variant("forbidden")
        assert types.fields_delete(ctx, f, name) == Variant("forbidden")
    assert types.fields_from_list(ctx, [("ok", b"1"), ("host", b"h")]) == Variant("forbidden")
    assert types.fields_from_list(ctx, [("bad name", b"1")]) == Variant("invalid-syntax")


def test_forbidden_set_is_configurable() -> None:
    cfg = WasiConfig()
    cfg.http_forbidden_headers = frozenset({"X-Secret"})
    ctx = make_ctx(cfg)
    f = types.fields_new(ctx)
    assert types.fields_append(ctx, f, "x-secret", b"1") == Variant("forbidden")
    assert types.fields_append(ctx, f, "connection", b"close") is None


def test_fields_from_messages_are_immutable_snapshots() -> None:
    ctx = make_ctx()
    original = fields(ctx, [("x-a", b"1")])
    req = types.outgoing_request_new(ctx, original)
    # the constructor took the map: the guest's handle is gone
    with pytest.raises(ComponentTrap):
        types.fields_get(ctx, original, "x-a")
    headers = types.outgoing_request_headers(ctx, req)
    assert types.fields_get(ctx, headers, "x-a") == [b"1"]
    assert types.fields_set(ctx, headers, "x-a", [b"2"]) == Variant("immutable")
    assert types.fields_append(ctx, headers, "x-b", b"2") == Variant("immutable")
    assert types.fields_delete(ctx, headers, "x-a") == Variant("immutable")
    # forbidden wins over immutable, syntax over both (wasmtime's order)
    assert types.fields_set(ctx, headers, "host", [b"h"]) == Variant("forbidden")
    assert types.fields_set(ctx, headers, "bad name", [b"h"]) == Variant("invalid-syntax")
    copy = types.fields_clone(ctx, headers)
    assert types.fields_set(ctx, copy, "x-a", [b"2"]) is None
    assert types.fields_get(ctx, types.outgoing_request_headers(ctx, req), "x-a") == [b"1"]
    # the snapshot is not a child: the request can be dropped while it lives
    ctx.drop(req.rep)
    assert types.fields_get(ctx, headers, "x-a") == [b"1"]


def test_field_size_limit_traps() -> None:
    cfg = WasiConfig()
    cfg.http_field_size_limit = 1024
    ctx = make_ctx(cfg)
    f = types.fields_new(ctx)
    assert types.fields_append(ctx, f, "x-a", b"v" * 500) is None
    with pytest.raises(ComponentTrap, match="exceeds limit"):
        types.fields_append(ctx, f, "x-b", b"v" * 600)


# ------------------------------------------------------------------ outgoing messages


def test_outgoing_request_defaults_and_setters() -> None:
    ctx = make_ctx()
    req = types.outgoing_request_new(ctx, types.fields_new(ctx))
    assert types.outgoing_request_method(ctx, req) == Variant("get")
    assert types.outgoing_request_path_with_query(ctx, req) is None
    assert types.outgoing_request_scheme(ctx, req) is None
    assert types.outgoing_request_authority(ctx, req) is None
    assert types.outgoing_request_set_method(ctx, req, Variant("other", "PURGE")) == OK
    assert types.outgoing_request_set_method(ctx, req, Variant("other", "BAD METHOD")) == ERR
    assert types.outgoing_request_method(ctx, req) == Variant("other", "PURGE")
    assert types.outgoing_request_set_scheme(ctx, req, Variant("other", "1nvalid")) == ERR
    assert types.outgoing_request_set_scheme(ctx, req, Variant("HTTPS")) == OK
    for good in ("example.com", "example.com:8080", "127.0.0.1:80", "[::1]", "[::1]:443"):
        assert types.outgoing_request_set_authority(ctx, req, good) == OK, good
    for bad in ("example.com:", "example.com:abc", "example.com:65536", "[::1]:x", "a b", "u@h"):
        assert types.outgoing_request_set_authority(ctx, req, bad) == ERR, bad
    assert types.outgoing_request_authority(ctx, req) == "[::1]:443"
    assert types.outgoing_request_set_path_with_query(ctx, req, "/a b") == ERR
    assert types.outgoing_request_set_path_with_query(ctx, req, "/a?b=c") == OK
    assert types.outgoing_request_path_with_query(ctx, req) == "/a?b=c"
    body = types.outgoing_request_body(ctx, req)
    assert isinstance(body, ResourceHost)
    assert types.outgoing_request_body(ctx, req) is None  # at most once


def test_request_options_round_trip() -> None:
    ctx = make_ctx()
    opts = types.request_options_new(ctx)
    assert types.TYPES.funcs["[method]request-options.connect-timeout"](ctx, opts) is None
    assert types.TYPES.funcs["[method]request-options.set-first-byte-timeout"](ctx, opts, 5) == OK
    assert types.TYPES.funcs["[method]request-options.first-byte-timeout"](ctx, opts) == 5
    assert types.TYPES.funcs["[method]request-options.between-bytes-timeout"](ctx, opts) is None


def test_outgoing_body_content_length_and_children() -> None:
    ctx = make_ctx()
    resp = types.outgoing_response_new(ctx, fields(ctx, [("content-length", b"3")]))
    assert types.outgoing_response_set_status_code(ctx, resp, 99) == ERR
    assert types.outgoing_response_set_status_code(ctx, resp, 201) == OK
    body = types.outgoing_response_body(ctx, resp)
    stream = types.outgoing_body_write(ctx, body)
    assert types.outgoing_body_write(ctx, body) is None  # at most once
    with pytest.raises(ComponentTrap, match="permitted by check-write"):
        io.output_write(ctx, stream, b"ab")  # strict permits: check-write first
    assert io.output_check_write(ctx, stream) > 0
    assert io.output_write(ctx, stream, b"ab") == OK
    # finishing (or dropping) the body while its stream lives traps
    with pytest.raises(ComponentTrap, match="children"):
        types.outgoing_body_finish(ctx, body, None)
    with pytest.raises(ComponentTrap, match="children"):
        ctx.drop(body.rep)
    failed = io.output_blocking_write_and_flush(ctx, stream, b"cd")  # 4 > content-length 3
    assert failed.tag == "err" and isinstance(failed.payload, ResourceHost)
    assert types.http_error_code(ctx, failed.payload) == Variant("HTTP-response-body-size", 4)
    ctx.drop(stream.rep)
    assert types.outgoing_body_finish(ctx, body, None) == Variant("HTTP-response-body-size", 4)


def test_invalid_content_length_is_refused_by_fields() -> None:
    """wasmtime parses ``content-length`` as ``1*DIGIT`` u64 when it enters a map (invalid-syntax otherwise)."""
    ctx = make_ctx()
    for value in (b"+3", b"", b"3 ", b"x", b"-1", b"18446744073709551616", b"\xd9\xa3"):
        assert types.fields_from_list(ctx, [("content-length", value)]) == Variant("invalid-syntax"), value
        f = types.fields_new(ctx)
        assert types.fields_append(ctx, f, "Content-Length", value) == Variant("invalid-syntax"), value
        assert types.fields_set(ctx, f, "content-length", [b"1", value]) == Variant("invalid-syntax"), value
    for value in (b"0", b"007", b"18446744073709551615"):
        resp = types.outgoing_response_new(ctx, fields(ctx, [("content-length", value)]))
        assert isinstance(types.outgoing_response_body(ctx, resp), ResourceHost), value


def test_http_error_code_of_other_errors_is_none() -> None:
    from wasmcomponent.wasi.ctx import Res
    from wasmcomponent.wasi.io import IoError

    ctx = make_ctx()
    handle = ctx.own(IoError("plain"), Res.ERROR)
    assert types.http_error_code(ctx, handle) is None


# ------------------------------------------------------------------ outgoing-handler


def test_outgoing_requests_are_denied_by_default() -> None:
    ctx = make_ctx()
    assert client.handle(ctx, request(ctx, "127.0.0.1:9"), None) == error("HTTP-request-denied")


def test_outgoing_request_validation() -> None:
    ctx = make_ctx()
    assert client.handle(ctx, request(ctx, None), None) == error("HTTP-request-URI-invalid")
    req = request(ctx, "example.com")
    assert types.outgoing_request_set_scheme(ctx, req, Variant("other", "ftp")) == OK
    assert client.handle(ctx, req, None) == error("HTTP-protocol-error")


def test_send_hook_virtualizes_requests() -> None:
    seen: list[HttpRequest] = []

    def hook(req: HttpRequest) -> HttpResponse:
        seen.append(req)
        if req.path_with_query == "/fail":
            raise HttpSendError(error("destination-not-found"))
        return HttpResponse(203, [("X-Upstream", b"v"), ("connection", b"close")], b"virtual:" + req.body)

    cfg = WasiConfig()
    cfg.http_send = hook
    ctx = make_ctx(cfg)
    req = request(ctx, "example.com:8080", "/p?q=1", "post")
    body = types.outgoing_request_body(ctx, req)
    future = client.handle(ctx, req, None)
    assert isinstance(future, ResourceHost)
    stream = types.outgoing_body_write(ctx, body)
    assert io.output_blocking_write_and_flush(ctx, stream, b"payload") == OK
    ctx.drop(stream.rep)
    assert types.outgoing_body_finish(ctx, body, None) is None
    response = resolve(ctx, future)
    assert types.incoming_response_status(ctx, response) == 203
    headers = types.incoming_response_headers(ctx, response)
    # forbidden headers never reach the guest
    assert types.fields_entries(ctx, headers) == [("X-Upstream", b"v")]
    assert read_body(ctx, response) == b"virtual:payload"
    assert seen[0].method == "POST" and seen[0].url == "http://example.com:8080/p?q=1"
    assert ("x-from", b"host-test") in seen[0].headers
    future = client.handle(ctx, request(ctx, "example.com", "/fail"), None)
    assert resolve(ctx, future) == error("destination-not-found")


@pytest.fixture
def upstream() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """A loopback HTTP server; yields (port, log of the requests it saw)."""
    log: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        timeout = TIMEOUT

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding") == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _answer(self) -> None:
            body = self._body() if self.command == "POST" else b""
            log.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            if self.path == "/slow":
                time.sleep(1.0)
            payload = f"{self.command} {self.path} body={body.decode()}".encode()
            self.send_response(201)
            self.send_header("x-upstream", "yes")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    with loopback_http_server(Handler, TIMEOUT) as port:
        yield port, log


def allowed_ctx() -> Any:
    cfg = WasiConfig()
    cfg.allow_outgoing_http()
    return make_ctx(cfg)


def test_allowed_request_to_loopback(upstream: tuple[int, list[dict[str, Any]]]) -> None:
    port, log = upstream
    ctx = allowed_ctx()
    req = request(ctx, f"127.0.0.1:{port}", "/x?y=1", "post")
    body = types.outgoing_request_body(ctx, req)
    future = client.handle(ctx, req, None)
    stream = types.outgoing_body_write(ctx, body)
    for part in (b"chunk-1,", b"chunk-2"):
        assert io.output_blocking_write_and_flush(ctx, stream, part) == OK
    ctx.drop(stream.rep)
    assert types.outgoing_body_finish(ctx, body, None) is None
    response = resolve(ctx, future)
    assert isinstance(response, ResourceHost), response
    assert types.incoming_response_status(ctx, response) == 201
    headers = types.incoming_response_headers(ctx, response)
    assert types.fields_get(ctx, headers, "X-Upstream") == [b"yes"]
    assert read_body(ctx, response) == b"POST /x?y=1 body=chunk-1,chunk-2"
    assert log[0]["headers"]["Host"] == f"127.0.0.1:{port}"
    assert log[0]["headers"]["x-from"] == "host-test"
    assert log[0]["headers"]["Transfer-Encoding"] == "chunked"


def test_connection_refused_and_timeouts(upstream: tuple[int, list[dict[str, Any]]]) -> None:
    port, _ = upstream
    ctx = allowed_ctx()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    future = client.handle(ctx, request(ctx, f"127.0.0.1:{closed_port}"), None)
    assert resolve(ctx, future) == error("connection-refused")
    opts = types.request_options_new(ctx)
    types.TYPES.funcs["[method]request-options.set-first-byte-timeout"](ctx, opts, 100_000_000)  # 0.1 s
    started = time.monotonic()
    future = client.handle(ctx, request(ctx, f"127.0.0.1:{port}", "/slow"), opts)
    assert resolve(ctx, future) == error("connection-read-timeout")
    assert time.monotonic() - started < 0.9


def test_dropping_the_body_aborts_the_request(upstream: tuple[int, list[dict[str, Any]]]) -> None:
    port, _ = upstream
    ctx = allowed_ctx()
    req = request(ctx, f"127.0.0.1:{port}", "/", "post")
    body = types.outgoing_request_body(ctx, req)
    future = client.handle(ctx, req, None)
    ctx.drop(body.rep)  # never finished: the message is corrupt
    assert resolve(ctx, future) == error("HTTP-request-body-size", None)


def test_incoming_body_finish_traps_while_stream_lives() -> None:
    cfg = WasiConfig()
    cfg.http_send = lambda req: HttpResponse(200, [], b"data")
    ctx = make_ctx(cfg)
    response = resolve(ctx, client.handle(ctx, request(ctx, "example.com"), None))
    body = types.incoming_response_consume(ctx, response)
    stream = types.incoming_body_stream(ctx, body)
    with pytest.raises(ComponentTrap, match="children"):
        types.incoming_body_finish(ctx, body)
    ctx.drop(stream.rep)
    assert isinstance(types.incoming_body_finish(ctx, body), ResourceHost)


# ------------------------------------------------------------------ guest level


@pytest.fixture(scope="module")
def guest_component() -> Iterator[tuple[wasmtime.Engine, Any, Path]]:
    path = build("http")
    eng = engine()
    yield eng, wasmcomponent.Component.from_file(eng, str(path)), path


def serve(component: tuple[wasmtime.Engine, Any, Path], cfg: Optional[WasiConfig] = None) -> tuple[Any, Any]:
    eng, comp, _ = component
    store = wasmtime.Store(eng)
    store.set_wasi(cfg if cfg is not None else WasiConfig())
    linker = wasmcomponent.Linker(eng)
    linker.add_wasip2()
    return store, linker.instantiate(store, comp)


def test_guest_hello(guest_component: Any) -> None:
    store, instance = serve(guest_component)
    resp = handle_request(store, instance, "PUT", "/hello?a=1", {"X-Test": "t1", "Host": "example.org"})
    assert resp.status == 200
    assert resp.header("content-type") == b"text/plain" and resp.header("x-guest") == b"componentize-py"
    assert resp.body == b"hello PUT /hello?a=1 scheme=Http authority=example.org x-test=t1 host-visible=False"
    resp = handle_request(store, instance, "PURGE", "https://api.test:8443/hello")
    assert resp.body.startswith(b"hello PURGE /hello scheme=Https authority=api.test:8443")


def test_guest_echo_streams_bodies(guest_component: Any) -> None:
    store, instance = serve(guest_component)
    payload = bytes(range(256)) * 700  # several reads and writes
    resp = handle_request(store, instance, "POST", "/echo", [("content-type", b"application/octet-stream")], payload)
    assert resp.status == 200 and resp.body == payload
    assert resp.header("x-length") == str(len(payload)).encode()


def test_guest_header_rules(guest_component: Any) -> None:
    store, instance = serve(guest_component)
    lines = handle_request(store, instance, "GET", "/fields", {"x-test": "orig"}).body.decode().splitlines()
    assert lines == [
        "from-list host: err Forbidden",
        "from-list bad name: err InvalidSyntax",
        "from-list bad value: err InvalidSyntax",
        "append X-A 1: ok",
        "append x-a 2: ok",
        "get x-a: [b'1', b'2']",
        "has X-a: True has bad name: False",
        "set connection: err Forbidden",
        "delete x-a: ok",
        "entries: []",
        "incoming set: err Immutable",
        "clone set: ok",
        "clone get: [b'changed']",
    ]


def test_guest_without_set_gets_500(guest_component: Any) -> None:
    store, instance = serve(guest_component)
    resp = handle_request(store, instance, "GET", "/noset")
    assert resp.status == 500 and resp.body == NEVER_SET.encode() and resp.error is None
    err = WasiConfig()
    stderr = err.stderr_buffer()
    store, instance = serve(guest_component, err)
    resp = handle_request(store, instance, "GET", "/trap")
    assert resp.status == 500 and resp.body == NEVER_SET.encode()
    assert isinstance(resp.error, wasmtime.WasmtimeError)
    assert b"guest failure before set" in bytes(stderr)


def test_guest_error_code_maps_to_5xx(guest_component: Any) -> None:
    store, instance = serve(guest_component)
    resp = handle_request(store, instance, "GET", "/error")
    assert resp.status == 504 and resp.body == b"connection-timeout"


def test_guest_outgoing_denied_by_default(guest_component: Any, upstream: Any) -> None:
    port, log = upstream
    store, instance = serve(guest_component)
    resp = handle_request(store, instance, "GET", f"/fetch?target=127.0.0.1:{port}&path=/x")
    assert (resp.status, resp.body) == (502, b"error=HttpRequestDenied")
    assert log == []


def test_guest_outgoing_allowed(guest_component: Any, upstream: Any) -> None:
    port, log = upstream
    cfg = WasiConfig()
    cfg.allow_outgoing_http()
    store, instance = serve(guest_component, cfg)
    resp = handle_request(store, instance, "GET", f"/fetch?target=127.0.0.1:{port}&path=/up")
    assert resp.status == 200
    assert resp.body == b"status=201 header=yes body=GET /up body="
    resp = handle_request(store, instance, "GET", f"/fetch?target=127.0.0.1:{port}&path=/p&method=POST")
    assert resp.body == b"status=201 header=yes body=POST /p body=ping-from-guest"
    assert [entry["headers"]["x-from"] for entry in log] == ["guest", "guest"]


def test_wasmtime_side_by_side_instantiation(guest_component: Any) -> None:
    """wasmtime-py 50 needs ``add_wasi_http`` for this guest; our ``add_wasip2`` alone serves it."""
    import wasmtime.component as wc

    eng, _, path = guest_component
    native = wc.Component.from_file(eng, str(path))
    store = wasmtime.Store(eng)
    store.set_wasi(wasmtime.WasiConfig())
    linker = wc.Linker(eng)
    linker.add_wasip2()
    with pytest.raises(wasmtime.WasmtimeError, match="wasi:http/types"):
        linker.instantiate(store, native)
    store = wasmtime.Store(eng)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_wasi_http()
    linker = wc.Linker(eng)
    linker.add_wasip2()
    linker.add_wasi_http()
    instance = linker.instantiate(store, native)
    assert instance.get_export_index(store, "wasi:http/incoming-handler@0.2.0") is not None
    ours_store, ours = serve(guest_component)
    assert ours.get_export_index(ours_store, "wasi:http/incoming-handler@0.2.0") is not None


def test_add_wasi_http_is_wasmtime_py_compatible() -> None:
    """``add_wasi_http()`` after ``add_wasip2()`` (wasmtime-py's order) changes nothing; alone it defines http only, once."""
    engine = wasmtime.Engine()
    both = wasmcomponent.Linker(engine)
    both.add_wasip2()
    before = both._generation
    both.add_wasi_http()
    assert both._generation == before
    only_http = wasmcomponent.Linker(engine)
    only_http.add_wasi_http()
    with pytest.raises(wasmtime.WasmtimeError, match="defined twice"):  # as wasmtime's linker
        only_http.add_wasi_http()
    items = only_http._root.items
    assert items.get_exact(f"wasi:http/types@{WASI_VERSION}") is not None
    assert items.get_exact(f"wasi:http/outgoing-handler@{WASI_VERSION}") is not None
    assert items.get_exact(f"wasi:io/streams@{WASI_VERSION}") is None


def test_wsgi_app_serves_each_request_with_a_fresh_instance(guest_component: Any) -> None:
    import io
    from wsgiref.util import setup_testing_defaults

    from wasmcomponent.wasi.http import WsgiApp

    eng, comp, _ = guest_component
    app = WsgiApp(eng, comp)
    payload = b"x" * 5000
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/echo",
        "CONTENT_TYPE": "application/octet-stream",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
    }
    setup_testing_defaults(environ)
    started: list[Any] = []
    body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
    assert started[0][0] == "200 OK" and body == payload
    assert dict(started[0][1])["x-length"] == str(len(payload))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "QUERY_STRING": "a=1", "HTTP_X_TEST": "t9"}
    setup_testing_defaults(environ)
    started.clear()
    body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
    assert started[0][0] == "200 OK"
    assert body.startswith(b"hello GET /hello?a=1 scheme=Http authority=127.0.0.1") and b"x-test=t9" in body
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/noset"}
    setup_testing_defaults(environ)
    started.clear()
    body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
    assert started[0][0] == "500 Internal Server Error" and b"response-outparam::set" in body


def test_asgi_app_serves_requests_and_lifespan(guest_component: Any) -> None:
    import asyncio

    from wasmcomponent.wasi.http import AsgiApp

    eng, comp, _ = guest_component
    app = AsgiApp(eng, comp)
    payload = bytes(range(256)) * 20

    async def request(scope: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
        inbox = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    async def scenario() -> None:
        echo = {"type": "http", "method": "POST", "path": "/echo", "scheme": "http", "server": ("127.0.0.1", 8000),
                "headers": [(b"content-type", b"application/octet-stream")], "query_string": b""}
        sent = await request(echo, [payload[:1000], payload[1000:]])  # a body in two messages
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
        assert dict(sent[0]["headers"])[b"x-length"] == str(len(payload)).encode()
        # the body streams: chunks with more_body=True, then an empty last message
        assert all(m["type"] == "http.response.body" for m in sent[1:])
        assert [m["more_body"] for m in sent[1:]] == [True] * (len(sent) - 2) + [False]
        assert b"".join(m["body"] for m in sent[1:]) == payload
        hello = {"type": "http", "method": "GET", "path": "/hello", "scheme": "http", "query_string": b"a=1",
                 "headers": [(b"host", b"example.org"), (b"x-test", b"t3")]}
        sent = await request(hello, [b""])
        assert b"".join(m["body"] for m in sent[1:]).startswith(b"hello GET /hello?a=1 scheme=Http authority=example.org x-test=t3")
        events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        acks: list[dict[str, Any]] = []

        async def receive_event() -> dict[str, Any]:
            return events.pop(0)

        async def send_ack(message: dict[str, Any]) -> None:
            acks.append(message)

        await app({"type": "lifespan"}, receive_event, send_ack)
        assert [a["type"] for a in acks] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
