"""A componentize-py ``wasi:http/proxy``-shaped guest for the Python WASI host's tests.

Routes (``incoming-handler.handle``):

* ``/hello``: 200 with what the guest saw (method, path, scheme, authority, ``x-test``).
* ``/echo``: the request body back, with ``x-length``.
* ``/fetch?target=HOST:PORT&path=/p[&method=POST]``: an outgoing request to
  ``http://HOST:PORT/p`` (a POST sends ``ping-from-guest``); answers 200 with
  the upstream status/header/body, or 502 ``error=<ErrorCode class>``.
* ``/fields``: header rules seen from the guest, one line each.
* ``/noset``: returns without ``response-outparam.set``; ``/trap``: raises first.
* ``/error``: ``set(err(connection-timeout))``.
* ``/big?mib=N``: 200 with an N MiB body (``bytes(range(256))`` repeated),
  written with ``check-write``/``write`` as the host grants room; a failed
  write is printed as ``big: <case> after <bytes>`` and the body finished anyway.
* ``/upload?target=HOST:PORT&mib=N[&hook=1]``: an outgoing POST with an N MiB
  body; answers ``status=<upstream status> sent=<bytes>`` or
  ``error=<ErrorCode class> write=<write outcome>``.
* ``/print?tag=T&n=N``: writes N lines to stdout, each in two ``write`` calls
  (``T out I `` then ``end``), N lines to stderr (``T err I``), one ``print``
  (``T print``) and an unterminated ``T tail``; answers 200 ``T``.
* ``/trap-after``: sets a 200 response, writes ``partial body``, then raises
  (its traceback goes to stderr, then the guest traps).
* ``/unfinished``: sets a 200 response, writes ``half``, and returns without
  finishing the body (the body resource is dropped).
"""

import os
from urllib.parse import parse_qs

import wit_world
from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler, streams, types

SECOND = 1_000_000_000


def _case(value: object) -> str:
    return type(value).__name__.split("_", 1)[-1]


def _read_all(body: types.IncomingBody) -> bytes:
    chunks = []
    with body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(65536))
            except Err as exc:
                if isinstance(exc.value, streams.StreamError_Closed):
                    break
                raise
    with types.IncomingBody.finish(body):
        pass
    return b"".join(chunks)


def _respond(out: types.ResponseOutparam, status: int, headers: list, body: bytes) -> None:
    response = types.OutgoingResponse(types.Fields.from_list(headers))
    response.set_status_code(status)
    outgoing = response.body()
    types.ResponseOutparam.set(out, Ok(response))
    with outgoing.write() as stream:
        for start in range(0, len(body), 4096):
            stream.blocking_write_and_flush(body[start : start + 4096])
    types.OutgoingBody.finish(outgoing, None)


def _fetch(query: dict) -> tuple:
    target = query["target"][0]
    path = query.get("path", ["/"])[0]
    post = query.get("method", ["GET"])[0] == "POST"
    request = types.OutgoingRequest(types.Fields.from_list([("x-from", b"guest")]))
    if post:
        request.set_method(types.Method_Post())
    request.set_scheme(types.Scheme_Http())
    request.set_authority(target)
    request.set_path_with_query(path)
    body = request.body() if post else None
    options = types.RequestOptions()
    options.set_connect_timeout(5 * SECOND)
    options.set_first_byte_timeout(5 * SECOND)
    options.set_between_bytes_timeout(5 * SECOND)
    try:
        future = outgoing_handler.handle(request, options)
    except Err as exc:
        return 502, f"error={_case(exc.value)}".encode()
    if body is not None:
        with body.write() as stream:
            stream.blocking_write_and_flush(b"ping-from-guest")
        types.OutgoingBody.finish(body, None)
    with future.subscribe() as pollable:
        pollable.block()
    outcome = future.get()
    future.__exit__(None, None, None)
    if outcome is None or isinstance(outcome, Err):
        return 500, b"future misbehaved"
    result = outcome.value
    if isinstance(result, Err):
        return 502, f"error={_case(result.value)}".encode()
    response = result.value
    with response.headers() as headers:
        upstream_header = b",".join(headers.get("x-upstream")).decode()
    status = response.status()
    data = _read_all(response.consume())
    response.__exit__(None, None, None)
    return 200, f"status={status} header={upstream_header} body={data.decode()}".encode()


def _fields(request: types.IncomingRequest) -> bytes:
    lines = []

    def attempt(label, action):
        try:
            result = action()
        except Err as exc:
            lines.append(f"{label}: err {_case(exc.value)}")
            return None
        lines.append(f"{label}: ok")
        return result

    attempt("from-list host", lambda: types.Fields.from_list([("host", b"x")]))
    attempt("from-list bad name", lambda: types.Fields.from_list([("bad name", b"x")]))
    attempt("from-list bad value", lambda: types.Fields.from_list([("x-ok", b"a\nb")]))
    fields = types.Fields()
    attempt("append X-A 1", lambda: fields.append("X-A", b"1"))
    attempt("append x-a 2", lambda: fields.append("x-a", b"2"))
    lines.append(f"get x-a: {fields.get('x-a')}")
    lines.append(f"has X-a: {fields.has('X-a')} has bad name: {fields.has('bad name')}")
    attempt("set connection", lambda: fields.set("connection", [b"close"]))
    attempt("delete x-a", lambda: fields.delete("x-a"))
    lines.append(f"entries: {fields.entries()}")
    with request.headers() as incoming:
        attempt("incoming set", lambda: incoming.set("x-test", [b"changed"]))
        with incoming.clone() as copy:
            attempt("clone set", lambda: copy.set("x-test", [b"changed"]))
            lines.append(f"clone get: {copy.get('x-test')}")
    fields.__exit__(None, None, None)
    return "\n".join(lines).encode()


MIB = 1 << 20
BLOCK = bytes(range(256)) * (MIB // 256)


def _stream_error(err: object) -> str:
    if isinstance(err, streams.StreamError_Closed):
        return "closed"
    code = types.http_error_code(err.value)
    return "io-error" if code is None else _case(code)


def _write_all(stream: streams.OutputStream, total: int) -> tuple:
    """Write ``total`` bytes of the pattern as the host grants room: (bytes written, error case or None)."""
    sent = 0
    while sent < total:
        try:
            permit = stream.check_write()
        except Err as exc:
            return sent, _stream_error(exc.value)
        if permit == 0:
            with stream.subscribe() as pollable:
                pollable.block()
            continue
        size = min(permit, len(BLOCK), total - sent)
        try:
            stream.write(BLOCK if size == len(BLOCK) else BLOCK[:size])
        except Err as exc:
            return sent, _stream_error(exc.value)
        sent += size
    try:
        stream.blocking_flush()
    except Err as exc:
        return sent, _stream_error(exc.value)
    return sent, None


def _print(query: dict) -> bytes:
    tag = query.get("tag", ["t"])[0]
    for i in range(int(query.get("n", ["1"])[0])):
        os.write(1, f"{tag} out {i} ".encode())  # half a line: the host must wait for the rest
        os.write(1, b"end\n")
        os.write(2, f"{tag} err {i}\n".encode())
    print(f"{tag} print", flush=True)
    os.write(1, f"{tag} tail".encode())
    return tag.encode()


def _trap_after(out: types.ResponseOutparam) -> None:
    response = types.OutgoingResponse(types.Fields.from_list([("content-type", b"text/plain")]))
    outgoing = response.body()
    types.ResponseOutparam.set(out, Ok(response))
    with outgoing.write() as stream:
        stream.blocking_write_and_flush(b"partial body")
    raise RuntimeError("guest failure after set")


def _unfinished(out: types.ResponseOutparam) -> None:
    response = types.OutgoingResponse(types.Fields())
    outgoing = response.body()
    types.ResponseOutparam.set(out, Ok(response))
    with outgoing.write() as stream:
        stream.blocking_write_and_flush(b"half")
    outgoing.__exit__(None, None, None)  # dropped, never finished


def _big(out: types.ResponseOutparam, mib: int) -> None:
    response = types.OutgoingResponse(types.Fields.from_list([("content-type", b"application/octet-stream")]))
    outgoing = response.body()
    types.ResponseOutparam.set(out, Ok(response))
    with outgoing.write() as stream:
        sent, failure = _write_all(stream, mib * MIB)
    if failure is not None:
        print(f"big: {failure} after {sent}")
    try:
        types.OutgoingBody.finish(outgoing, None)
    except Err as exc:
        print(f"big: finish {_case(exc.value)}")


def _upload(query: dict) -> tuple:
    request = types.OutgoingRequest(types.Fields())
    request.set_method(types.Method_Post())
    request.set_scheme(types.Scheme_Http())
    request.set_authority(query["target"][0])
    request.set_path_with_query("/upload")
    body = request.body()
    try:
        future = outgoing_handler.handle(request, None)
    except Err as exc:
        return 502, f"error={_case(exc.value)}".encode()
    with body.write() as stream:
        sent, failure = _write_all(stream, int(query["mib"][0]) * MIB)
    try:
        types.OutgoingBody.finish(body, None)
    except Err as exc:
        failure = failure or f"finish {_case(exc.value)}"
    with future.subscribe() as pollable:
        pollable.block()
    outcome = future.get()
    future.__exit__(None, None, None)
    result = outcome.value
    if isinstance(result, Err):
        return 502, f"error={_case(result.value)} write={failure} sent={sent}".encode()
    response = result.value
    status = response.status()
    data = _read_all(response.consume())
    response.__exit__(None, None, None)
    return 200, f"status={status} sent={sent} write={failure} body={data[:64].decode()}".encode()


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: types.IncomingRequest, response_out: types.ResponseOutparam) -> None:
        full = request.path_with_query() or "/"
        path, _, query_text = full.partition("?")
        query = parse_qs(query_text)
        if path == "/hello":
            method = request.method()
            name = method.value if isinstance(method, types.Method_Other) else _case(method).upper()
            scheme = request.scheme()
            with request.headers() as headers:
                test = b",".join(headers.get("x-test")).decode()
                has_host = headers.has("host")
            text = (
                f"hello {name} {full} scheme={_case(scheme)} authority={request.authority()}"
                f" x-test={test} host-visible={has_host}"
            )
            _respond(response_out, 200, [("content-type", b"text/plain"), ("x-guest", b"componentize-py")], text.encode())
        elif path == "/echo":
            data = _read_all(request.consume())
            _respond(response_out, 200, [("x-length", str(len(data)).encode())], data)
        elif path == "/fetch":
            status, body = _fetch(query)
            _respond(response_out, status, [], body)
        elif path == "/fields":
            _respond(response_out, 200, [], _fields(request))
        elif path == "/noset":
            return
        elif path == "/trap":
            raise RuntimeError("guest failure before set")
        elif path == "/big":
            _big(response_out, int(query["mib"][0]))
        elif path == "/upload":
            status, body = _upload(query)
            _respond(response_out, status, [], body)
        elif path == "/print":
            _respond(response_out, 200, [], _print(query))
        elif path == "/trap-after":
            _trap_after(response_out)
        elif path == "/unfinished":
            _unfinished(response_out)
        elif path == "/error":
            types.ResponseOutparam.set(response_out, Err(types.ErrorCode_ConnectionTimeout()))
        else:
            _respond(response_out, 404, [], b"not found")


U64_BOUNDARIES = (0, 2**31, 2**32 - 1, 2**63, 2**64 - 1)


def _outcome(action, *args) -> str:
    try:
        value = action(*args)
    except Err as exc:
        value = exc.value
        return f"err {_case(value) if value is not None else None}"
    return f"ok {value!r}"


class WitWorld(wit_world.WitWorld):
    def integers(self) -> list:
        lines = []
        response = types.OutgoingResponse(types.Fields())
        for status in (0, 1, 99, 100, 200, 599, 999, 1000, 2**15, 2**16 - 1):
            lines.append(f"set-status-code {status}: {_outcome(response.set_status_code, status)}")
            lines.append(f"status-code: {response.status_code()}")
        options = types.RequestOptions()
        for name in ("connect", "first_byte", "between_bytes"):
            for value in U64_BOUNDARIES:
                setter = getattr(options, f"set_{name}_timeout")
                getter = getattr(options, f"{name}_timeout")
                lines.append(f"set-{name} {value}: {_outcome(setter, value)} get {getter()}")
            lines.append(f"set-{name} none: {_outcome(getattr(options, f'set_{name}_timeout'), None)}")
        # a declared content-length is enforced on write and at finish, with the written size
        for declared, data in ((3, b"abcd"), (5, b"ab"), (0, b"")):
            response = types.OutgoingResponse(types.Fields.from_list([("content-length", str(declared).encode())]))
            body = response.body()
            with body.write() as stream:
                permit = stream.check_write()
                lines.append(f"content-length {declared} check-write>0: {permit > 0}")
                lines.append(f"write {len(data)}: {_outcome(stream.write, data)}")
            lines.append(f"finish: {_outcome(types.OutgoingBody.finish, body, None)}")
        for value in (b"", b"7", b"1" * 20, b"18446744073709551616", b"-1", b"+1"):
            try:
                fields = types.Fields.from_list([("content-length", value)])
            except Err as exc:
                lines.append(f"content-length {value!r} from-list: err {_case(exc.value)}")
                continue
            response = types.OutgoingResponse(fields)
            lines.append(f"content-length {value!r} body: {_outcome(lambda r: r.body() is not None, response)}")
        return lines
