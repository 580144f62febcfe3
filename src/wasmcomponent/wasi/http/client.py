"""``wasi:http/outgoing-handler`` 0.2: outgoing requests behind a deny-by-default policy.

``handle(request, options)`` validates the request synchronously (method,
scheme, authority) and then:

* denied (the default) → ``err(HTTP-request-denied)``;
* ``cfg.http_send`` set → a helper thread collects the request body (at most
  ``cfg.max_http_body_bytes``: past it the guest's write fails and the future
  answers ``HTTP-request-body-size``) and calls ``http_send(HttpRequest) ->
  HttpResponse`` (virtualized HTTP: nothing touches the network);
* ``cfg.allow_outgoing_http()`` → a helper thread performs the request with
  ``http.client`` (``https`` with the default SSL context), streaming the
  body as the guest writes it (chunked unless ``content-length`` is set).

The network path follows the sockets' policy.  The helper thread resolves
the authority, asks ``cfg.socket_addr_check((ip, port), "tcp-connect")``
about every address (the same call a ``wasi:sockets`` TCP connect makes) and
connects only to an allowed address, the resolved IP itself, so a name that
resolves differently later (DNS rebinding) cannot reach anything else.  No
allowed address → the future answers ``HTTP-request-denied`` (the code
wasmtime's own embedder hooks use) and nothing is connected.  Each open
connection holds a unit of the store's descriptor budget
(``cfg.max_host_descriptors``); none left → ``connection-limit-reached``.
Redirects are not followed (as wasmtime).

Either way the guest gets a ``future-incoming-response`` that the thread
resolves; the response body is fed to the guest's stream as it arrives,
through a bounded buffer (the thread waits while the guest does not read).
Timeouts come from ``request-options`` (connect, first byte, between bytes;
wasmtime's default is 600 s each; any u64 of nanoseconds is accepted, clamped
to :data:`MAX_TIMEOUT` seconds), and every wait of the thread is bounded,
so it always ends: when the guest drops the future, the body or its stream,
the thread notices and stops.  Guest state is only touched on the guest's
thread (the thread fills thread-safe buffers and sets the future's result).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ...types.values import Record, Variant
from ..ctx import Interface, Res
from .body import BodyAborted, BodySink, BodySource, IncomingBody, PullSource
from .codes import (
    error,
    error_from_exception,
    internal_error,
    method_name,
    scheme_name,
    split_authority,
)
from .owned import take
from .types import (
    FutureIncomingResponse,
    HttpState,
    IncomingResponse,
    OutgoingRequest,
    RequestOptions,
    http_state,
)

if TYPE_CHECKING:
    from ..ctx import WasiCtx

READ_CHUNK = 64 * 1024
# Longest timeout honoured, in seconds (about 31 years): u64 nanoseconds do not fit the OS's timeouts.
MAX_TIMEOUT = 1e9
# Shortest timeout, in seconds: 0 would switch Python sockets to non-blocking mode.
MIN_TIMEOUT = 1e-6
# The ``use`` passed to ``socket_addr_check`` before an outgoing HTTP connection.
HTTP_CONNECT_USE = "tcp-connect"

OUTGOING_HANDLER = Interface(
    "wasi:http/outgoing-handler",
    resources={
        "outgoing-request": Res.OUTGOING_REQUEST,
        "request-options": Res.REQUEST_OPTIONS,
        "future-incoming-response": Res.FUTURE_INCOMING_RESPONSE,
    },
)


@dataclass
class HttpRequest:
    """An outgoing request as the ``http_send`` hook sees it (body complete)."""

    method: str
    scheme: str
    authority: str
    path_with_query: str
    headers: list[tuple[str, bytes]]
    body: bytes = b""
    connect_timeout: float = 600.0
    first_byte_timeout: float = 600.0
    between_bytes_timeout: float = 600.0

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path_with_query}"


@dataclass
class HttpResponse:
    """A response: status, headers (name, value bytes) in order, body, optional trailers.

    ``error`` is set by :func:`~.server.handle_request` on its 500 answer when
    the guest trapped before setting a response.  An ``http_send`` hook may
    give ``body`` as an iterable of ``bytes``: it is pulled as the guest reads
    (a large body need not be held).
    """

    status: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: Optional[list[tuple[str, bytes]]] = None
    error: Optional[BaseException] = None

    def header(self, name: str) -> Optional[bytes]:
        """The first value of header ``name`` (case-insensitive), or None."""
        key = name.lower()
        return next((v for n, v in self.headers if n.lower() == key), None)


class HttpSendError(Exception):
    """Raised by an ``http_send`` hook to answer with a WIT ``error-code`` (a ``Variant``)."""

    def __init__(self, code: Variant) -> None:
        super().__init__(code.tag)
        self.code = code


@dataclass
class _Plan:
    """What the helper thread needs, fixed on the guest's thread."""

    method: str
    scheme: str
    host: str
    port: Optional[int]
    authority: str
    path: str
    headers: list[tuple[str, bytes]]
    sink: Optional[BodySink]
    chunked: bool
    timeouts: tuple[float, float, float]
    cancelled: threading.Event = field(default_factory=threading.Event)


def _seconds(value: Optional[int], default_ns: int) -> float:
    """A ``duration`` (u64 nanoseconds) as socket-friendly seconds."""
    return min(max((default_ns if value is None else value) / 1e9, MIN_TIMEOUT), MAX_TIMEOUT)


@OUTGOING_HANDLER.func("handle")
def handle(ctx: WasiCtx, request: Any, options: Any) -> Any:
    """``result<future-incoming-response, error-code>`` (untagged: a handle or a ``Variant``)."""
    req = take(ctx, request, OutgoingRequest)
    opts = None if options is None else take(ctx, options, RequestOptions)
    state = http_state(ctx)
    plan_or_error = _plan(state, req, opts)
    if isinstance(plan_or_error, Variant):
        if req.sink is not None:
            req.sink.close()
        return plan_or_error
    plan = plan_or_error
    future = FutureIncomingResponse()
    future.cancel = plan.cancelled.set
    target: Callable[[_Plan, FutureIncomingResponse], None]
    if state.send is not None:
        hook = state.send
        if plan.sink is not None:
            sink = plan.sink
            with sink.cond:  # the hook gets the body whole: hold it, up to the limit
                sink.capacity = None
                sink.limit = state.max_body_bytes
                sink.cond.notify_all()

        def target(p: _Plan, f: FutureIncomingResponse) -> None:
            _run_hook(hook, state, p, f)

    else:
        budget = ctx.descriptors
        if not budget.claim():  # the connection would be one more host descriptor
            if plan.sink is not None:
                plan.sink.close()
            future.resolve(error("connection-limit-reached"))
            return ctx.own(future, Res.FUTURE_INCOMING_RESPONSE)

        def target(p: _Plan, f: FutureIncomingResponse) -> None:
            try:
                _run_client(state, p, f)
            finally:
                budget.release()

    thread = threading.Thread(target=target, args=(plan, future), name="wasi-http-client", daemon=True)
    thread.start()
    return ctx.own(future, Res.FUTURE_INCOMING_RESPONSE)


def _plan(state: HttpState, req: OutgoingRequest, opts: Optional[RequestOptions]) -> Any:
    """Validate ``req`` (as wasmtime, in this order) and return a :class:`_Plan` or an ``error-code``."""
    method = method_name(req.method)
    scheme = "https" if req.scheme is None else scheme_name(req.scheme)  # wasmtime's default
    if scheme not in ("http", "https"):
        return error("HTTP-protocol-error")
    authority = req.authority or ""
    parts = split_authority(authority)
    if parts is None:
        return error("HTTP-request-URI-invalid")
    if not state.outgoing_allowed:
        return error("HTTP-request-denied")
    host, port = parts
    headers = list(req.headers.entries)
    chunked = req.sink is not None and req.expected is None
    default = state.default_timeout_ns
    timeouts = (
        _seconds(opts.connect if opts else None, default),
        _seconds(opts.first_byte if opts else None, default),
        _seconds(opts.between_bytes if opts else None, default),
    )
    path = req.path_with_query or "/"
    return _Plan(method, scheme, host, port, authority, path, headers, req.sink, chunked, timeouts)


def _body_chunks(plan: _Plan) -> Any:
    """The request body's chunks as the guest writes them; stops when the future is dropped."""
    sink = plan.sink
    if sink is None:
        return
    while not plan.cancelled.is_set():
        chunk = sink.take()
        if chunk is None:
            return
        if chunk is False:
            continue
        assert isinstance(chunk, bytes)
        yield chunk
    raise BodyAborted("the response future was dropped")


def _collect_body(plan: _Plan) -> Union[bytes, Variant]:
    """The whole request body for a hook, or the ``error-code`` that ends the request."""
    sink = plan.sink
    if sink is None:
        return b""
    while not sink.wait_ended():
        if plan.cancelled.is_set():
            sink.close()
            return error("HTTP-request-body-size", None)
    if sink.overflowed:
        sink.close()
        return error("HTTP-request-body-size", sink.total)
    if sink.aborted:
        return error("HTTP-request-body-size", None)
    return sink.collected()


def _hook_body(body: Any) -> BodySource:
    """A hook's response body: ``bytes``, or an iterable of ``bytes`` pulled as the guest reads."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return BodySource.of(bytes(body))
    chunks = iter(body)
    return PullSource(lambda size: next(chunks, None))


def _run_hook(hook: Callable[[Any], Any], state: HttpState, plan: _Plan, future: FutureIncomingResponse) -> None:
    body = _collect_body(plan)
    if isinstance(body, Variant):
        future.resolve(body)
        return
    request = HttpRequest(
        plan.method, plan.scheme, plan.authority, plan.path, plan.headers, body, *plan.timeouts
    )
    try:
        response = hook(request)
        if not isinstance(response, HttpResponse):
            raise TypeError(f"http_send returned {type(response).__name__}, expected HttpResponse")
    except HttpSendError as err:
        future.resolve(err.code)
        return
    except Exception as err:  # a failing hook is reported to the guest, as a transport error would be
        future.resolve(internal_error(f"{type(err).__name__}: {err}"))
        return
    source = _hook_body(response.body)
    source.trailers = response.trailers
    headers = state.incoming_fields(response.headers)
    future.resolve(IncomingResponse(response.status, headers, IncomingBody(source)))


def _allowed_addresses(state: HttpState, plan: _Plan, port: int) -> Union[list[tuple[Any, Any]], Variant]:
    """The resolved ``(family, sockaddr)`` of the authority that the address policy allows, or an error code."""
    try:
        infos = socket.getaddrinfo(plan.host, port, type=socket.SOCK_STREAM)
    except UnicodeError as err:  # a name IDNA cannot encode
        return error("DNS-error", Record(rcode=str(err), **{"info-code": None}))
    except OSError as err:
        return error_from_exception(err, "connect")
    check = state.addr_check
    allowed: list[tuple[Any, Any]] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = str(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        try:
            ok = check is None or bool(check((ip, port), HTTP_CONNECT_USE))
        except Exception:  # noqa: BLE001 - a failing policy denies, never lets a request through
            ok = False
        if ok and (family, sockaddr) not in allowed:
            allowed.append((family, sockaddr))
    return allowed if allowed else error("HTTP-request-denied")


def _connect(addresses: list[tuple[Any, Any]], timeout: Optional[float]) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that answers (as ``socket.create_connection``)."""
    failure: Optional[OSError] = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as err:
            sock.close()
            failure = err
    raise failure if failure is not None else OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` to already resolved and checked addresses (the host name is not resolved again)."""

    def __init__(self, host: str, port: int, addresses: list[tuple[Any, Any]], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over a pinned connection; the certificate is checked against the host name."""

    def __init__(self, host: str, port: int, addresses: list[tuple[Any, Any]], timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = addresses

    def connect(self) -> None:
        sock = _connect(self.addresses, self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _run_client(state: HttpState, plan: _Plan, future: FutureIncomingResponse) -> None:
    try:
        _client_exchange(state, plan, future)
    finally:
        if plan.sink is not None:
            plan.sink.close()  # whatever happened, the guest's further writes see a closed stream


def _client_exchange(state: HttpState, plan: _Plan, future: FutureIncomingResponse) -> None:
    connect_timeout, first_byte_timeout, between_bytes_timeout = plan.timeouts
    port = plan.port if plan.port is not None else (443 if plan.scheme == "https" else 80)
    addresses = _allowed_addresses(state, plan, port)
    if isinstance(addresses, Variant):
        future.resolve(addresses)
        return
    conn: http.client.HTTPConnection
    if plan.scheme == "https":
        conn = _PinnedHTTPSConnection(plan.host, port, addresses, connect_timeout)
    else:
        conn = _PinnedHTTPConnection(plan.host, port, addresses, connect_timeout)
    try:
        if plan.cancelled.is_set():
            return
        try:
            conn.connect()
        except Exception as err:
            future.resolve(error_from_exception(err, "connect"))
            return
        response = _exchange(conn, plan, first_byte_timeout, future)
        if response is None:
            return
        source = BodySource()
        headers = state.incoming_fields(
            (name, value.encode("latin-1", "replace")) for name, value in response.getheaders()
        )
        future.resolve(IncomingResponse(response.status, headers, IncomingBody(source)))
        _pump(conn, response, source, between_bytes_timeout)
    finally:
        conn.close()


def _exchange(
    conn: http.client.HTTPConnection, plan: _Plan, first_byte_timeout: float, future: FutureIncomingResponse
) -> Optional[http.client.HTTPResponse]:
    """Send the request (streaming its body) and read the response head; None after resolving an error."""
    try:
        conn.putrequest(plan.method, plan.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", plan.authority)
        for name, value in plan.headers:
            conn.putheader(name, value)
        if plan.chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for chunk in _body_chunks(plan):
            if plan.chunked:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                conn.send(chunk)
        if plan.chunked:
            conn.send(b"0\r\n\r\n")
    except BodyAborted:
        future.resolve(error("HTTP-request-body-size", None))
        return None
    except Exception as err:
        future.resolve(error_from_exception(err, "write"))
        return None
    sock = conn.sock
    if sock is not None:
        sock.settimeout(first_byte_timeout)
    try:
        return conn.getresponse()
    except TimeoutError:
        future.resolve(error("connection-read-timeout"))
    except http.client.HTTPException as err:
        future.resolve(error("HTTP-protocol-error") if not isinstance(err, http.client.RemoteDisconnected)
                       else error("HTTP-response-incomplete"))
    except Exception as err:
        future.resolve(error_from_exception(err, "read"))
    return None


def _pump(conn: http.client.HTTPConnection, response: http.client.HTTPResponse, source: BodySource,
          between_bytes_timeout: float) -> None:
    """Feed the response body into ``source`` until the end, an error, or the guest dropping it."""
    sock = conn.sock
    if sock is not None:
        sock.settimeout(between_bytes_timeout)
    deadline_slice = max(between_bytes_timeout, 0.001)
    try:
        while True:
            data = response.read1(READ_CHUNK)
            if not data:
                source.end()
                return
            started = time.monotonic()
            while not source.feed(data, timeout=min(deadline_slice, 0.25)):
                if source.cancelled:
                    return
                if time.monotonic() - started > 600:
                    source.end(internal_error("the guest stopped reading the response body"))
                    return
    except TimeoutError:
        source.end(error("connection-read-timeout"))
    except http.client.IncompleteRead:
        source.end(error("HTTP-response-incomplete"))
    except Exception as err:
        source.end(error_from_exception(err, "read"))

