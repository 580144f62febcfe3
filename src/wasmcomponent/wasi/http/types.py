"""``wasi:http/types`` 0.2: the message resources and the interface's 51 stable callables.

Rules (WASI.md 3.7, wasmtime's behaviour):

* ``headers()`` of any message returns an immutable snapshot (a separate
  resource, as in wasmtime, not a child: a guest may pass the message on while
  holding it).  The ``headers`` given to an ``outgoing-*`` constructor are
  taken by it and become immutable.
* At most once: ``consume``, ``body``, ``stream``, ``write`` and the outer
  result of ``future-*.get`` return ``err`` on later calls.
* Children: a body's stream is a child of the body, so ``finish`` (or
  dropping the body) traps while the stream lives.
* ``outgoing-body.finish`` compares a declared ``content-length`` with the
  bytes written (``HTTP-request-body-size`` / ``HTTP-response-body-size``);
  dropping an outgoing body without ``finish`` aborts its message.
* ``response-outparam.set`` hands the response (or an error code) to the
  serving side (:mod:`.server`); the unstable ``send-informational`` is not
  defined.

The per-context policy and limits live in :class:`HttpState` (from the
:class:`~..config.WasiConfig`), reached with :func:`http_state`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ...runtime.resources import ResourceHost
from ...types.values import Variant
from ..ctx import HostObject, Interface, Res
from ..io import IoError, Pollable, Signal
from .body import (
    BodyInput,
    BodyOutput,
    BodySink,
    FutureTrailers,
    HttpIoError,
    IncomingBody,
    OutgoingBody,
    trailer_pairs,
)
from .codes import split_authority, valid_method, valid_path_with_query, valid_scheme
from .fields import DEFAULT_FIELD_SIZE_LIMIT, DEFAULT_FORBIDDEN_HEADERS, Fields, HeaderError
from .owned import Owned, take

if TYPE_CHECKING:
    from ..config import WasiConfig
    from ..ctx import WasiCtx

OK = Variant("ok")
ERR = Variant("err")
# wasmtime's default request timeouts (connect, first byte, between bytes), in nanoseconds
DEFAULT_TIMEOUT_NS = 600 * 10**9
DEFAULT_MAX_BODY_BYTES = 64 << 20


class HttpState:
    """The HTTP policy and limits of one context."""

    def __init__(self, config: WasiConfig) -> None:
        forbidden = getattr(config, "http_forbidden_headers", DEFAULT_FORBIDDEN_HEADERS)
        self.forbidden = frozenset(name.lower() for name in forbidden)
        self.field_size_limit: int = getattr(config, "http_field_size_limit", DEFAULT_FIELD_SIZE_LIMIT)
        self.send: Optional[Callable[[Any], Any]] = getattr(config, "http_send", None)
        self.outgoing_allowed: bool = bool(getattr(config, "http_outgoing_allowed", False)) or self.send is not None
        self.default_timeout_ns: int = getattr(config, "http_default_timeout_ns", DEFAULT_TIMEOUT_NS)
        self.strict_permits: bool = config.strict_permits
        # bytes of one body the host may hold when it has to collect it whole
        self.max_body_bytes: int = getattr(config, "max_http_body_bytes", DEFAULT_MAX_BODY_BYTES)
        # the sockets' address policy, consulted before every outgoing connection ("tcp-connect")
        self.addr_check: Optional[Callable[[tuple[str, int], str], bool]] = getattr(config, "socket_addr_check", None)

    def fields(self) -> Fields:
        return Fields(self.forbidden, self.field_size_limit)

    def incoming_fields(self, pairs: Any) -> Fields:
        return Fields.incoming(pairs, self.forbidden, self.field_size_limit)


def http_state(ctx: WasiCtx) -> HttpState:
    """The context's :class:`HttpState`, built on first use."""
    state = getattr(ctx, "http_state", None)
    if state is None:
        state = HttpState(ctx.config)
        setattr(ctx, "http_state", state)  # noqa: B010  # WasiCtx has no slot for it (yet)
    return state


# ------------------------------------------------------------------ messages


class IncomingRequest(HostObject):
    """``incoming-request``: what the serving side received."""

    __slots__ = ("method", "path_with_query", "scheme", "authority", "headers", "body")

    def __init__(
        self,
        method: Variant,
        path_with_query: Optional[str],
        scheme: Optional[Variant],
        authority: Optional[str],
        headers: Fields,
        body: Optional[IncomingBody],
    ) -> None:
        super().__init__()
        self.method = method
        self.path_with_query = path_with_query
        self.scheme = scheme
        self.authority = authority
        self.headers = headers
        self.body = body

    def close(self) -> None:
        if self.body is not None:
            self.body.release()


class OutgoingRequest(Owned):
    """``outgoing-request``: built by the guest, taken by ``outgoing-handler.handle``."""

    __slots__ = ("method", "path_with_query", "scheme", "authority", "headers", "sink", "expected")

    def __init__(self, headers: Fields) -> None:
        super().__init__()
        self.method = Variant("get")
        self.path_with_query: Optional[str] = None
        self.scheme: Optional[Variant] = None
        self.authority: Optional[str] = None
        self.headers = headers
        self.sink: Optional[BodySink] = None
        self.expected: Optional[int] = None

    def release(self) -> None:
        if self.sink is not None:
            self.sink.close()


class RequestOptions(Owned):
    """``request-options``: timeouts in nanoseconds (None: the default)."""

    __slots__ = ("connect", "first_byte", "between_bytes")

    def __init__(self) -> None:
        super().__init__()
        self.connect: Optional[int] = None
        self.first_byte: Optional[int] = None
        self.between_bytes: Optional[int] = None


class ResponseOutparam(Owned):
    """``response-outparam``: ``result`` is set once, by ``set``; ``on_set`` tells the serving side."""

    __slots__ = ("result", "is_set", "on_set")

    def __init__(self, on_set: Optional[Callable[[Any], None]] = None) -> None:
        super().__init__()
        self.result: Any = None
        self.is_set = False
        self.on_set = on_set


class IncomingResponse(HostObject):
    """``incoming-response``: the answer to an outgoing request."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Fields, body: Optional[IncomingBody]) -> None:
        super().__init__()
        self.status = status
        self.headers = headers
        self.body = body

    def close(self) -> None:
        if self.body is not None:
            self.body.release()


class OutgoingResponse(Owned):
    """``outgoing-response``: built by the guest, handed over with ``response-outparam.set``."""

    __slots__ = ("status", "headers", "sink", "expected")

    def __init__(self, headers: Fields) -> None:
        super().__init__()
        self.status = 200
        self.headers = headers
        self.sink: Optional[BodySink] = None
        self.expected: Optional[int] = None

    def release(self) -> None:
        if self.sink is not None:
            self.sink.close()


class FutureIncomingResponse(HostObject):
    """``future-incoming-response``: resolved by the client thread (``resolve``)."""

    __slots__ = ("outcome", "resolved", "consumed", "cancel", "signal")

    def __init__(self) -> None:
        super().__init__()
        self.outcome: Any = None  # IncomingResponse | Variant (error-code)
        self.resolved = False
        self.consumed = False
        self.cancel: Optional[Callable[[], None]] = None
        self.signal = Signal()  # wakes an asyncio waiter when the client thread resolves it

    def resolve(self, outcome: Any) -> None:
        self.outcome = outcome
        self.resolved = True
        self.signal.notify()

    def close(self) -> None:
        if self.cancel is not None:
            self.cancel()
        outcome = self.outcome
        if isinstance(outcome, IncomingResponse) and outcome.body is not None:
            outcome.body.release()


def content_length(headers: Fields) -> tuple[bool, Optional[int]]:
    """``(valid, length)`` of the ``content-length`` header (``1*DIGIT``), as wasmtime reads it."""
    value = headers.first("content-length")
    if value is None:
        return True, None
    if not value or not value.isdigit():
        return False, None
    return True, int(value)


# ------------------------------------------------------------------ interface

TYPES = Interface(
    "wasi:http/types",
    resources={
        "fields": Res.FIELDS,
        "headers": Res.FIELDS,
        "trailers": Res.FIELDS,
        "incoming-request": Res.INCOMING_REQUEST,
        "outgoing-request": Res.OUTGOING_REQUEST,
        "request-options": Res.REQUEST_OPTIONS,
        "response-outparam": Res.RESPONSE_OUTPARAM,
        "incoming-response": Res.INCOMING_RESPONSE,
        "incoming-body": Res.INCOMING_BODY,
        "future-trailers": Res.FUTURE_TRAILERS,
        "outgoing-response": Res.OUTGOING_RESPONSE,
        "outgoing-body": Res.OUTGOING_BODY,
        "future-incoming-response": Res.FUTURE_INCOMING_RESPONSE,
        "input-stream": Res.INPUT_STREAM,
        "output-stream": Res.OUTPUT_STREAM,
        "io-error": Res.ERROR,
        "pollable": Res.POLLABLE,
    },
)


def _header_result(action: Callable[[], Any]) -> Optional[Variant]:
    """Run a mutation: None is ``ok``, a ``header-error`` case is ``err`` (untagged result)."""
    try:
        action()
    except HeaderError as err:
        return Variant(err.case)
    return None


# fields


@TYPES.func("[constructor]fields")
def fields_new(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(http_state(ctx).fields(), Res.FIELDS)


@TYPES.func("[static]fields.from-list")
def fields_from_list(ctx: WasiCtx, entries: list[tuple[str, bytes]]) -> Any:
    state = http_state(ctx)
    try:
        fields = Fields.from_list(entries, state.forbidden, state.field_size_limit)
    except HeaderError as err:
        return Variant(err.case)
    return ctx.own(fields, Res.FIELDS)


@TYPES.func("[method]fields.get")
def fields_get(ctx: WasiCtx, self: Any, name: str) -> list[bytes]:
    return ctx.get(self, Fields).get(name)


@TYPES.func("[method]fields.has")
def fields_has(ctx: WasiCtx, self: Any, name: str) -> bool:
    return ctx.get(self, Fields).has(name)


@TYPES.func("[method]fields.set")
def fields_set(ctx: WasiCtx, self: Any, name: str, values: list[bytes]) -> Optional[Variant]:
    fields = ctx.get(self, Fields)
    return _header_result(lambda: fields.set(name, values))


@TYPES.func("[method]fields.delete")
def fields_delete(ctx: WasiCtx, self: Any, name: str) -> Optional[Variant]:
    fields = ctx.get(self, Fields)
    return _header_result(lambda: fields.delete(name))


@TYPES.func("[method]fields.append")
def fields_append(ctx: WasiCtx, self: Any, name: str, value: bytes) -> Optional[Variant]:
    fields = ctx.get(self, Fields)
    return _header_result(lambda: fields.append(name, value))


@TYPES.func("[method]fields.entries")
def fields_entries(ctx: WasiCtx, self: Any) -> list[tuple[str, bytes]]:
    return list(ctx.get(self, Fields).entries)


@TYPES.func("[method]fields.clone")
def fields_clone(ctx: WasiCtx, self: Any) -> ResourceHost:
    return ctx.own(ctx.get(self, Fields).snapshot(mutable=True), Res.FIELDS)


# incoming-request


@TYPES.func("[method]incoming-request.method")
def incoming_request_method(ctx: WasiCtx, self: Any) -> Variant:
    return ctx.get(self, IncomingRequest).method


@TYPES.func("[method]incoming-request.path-with-query")
def incoming_request_path_with_query(ctx: WasiCtx, self: Any) -> Optional[str]:
    return ctx.get(self, IncomingRequest).path_with_query


@TYPES.func("[method]incoming-request.scheme")
def incoming_request_scheme(ctx: WasiCtx, self: Any) -> Optional[Variant]:
    return ctx.get(self, IncomingRequest).scheme


@TYPES.func("[method]incoming-request.authority")
def incoming_request_authority(ctx: WasiCtx, self: Any) -> Optional[str]:
    return ctx.get(self, IncomingRequest).authority


def _incoming_message(resource: str, cls: type[Any]) -> tuple[Any, Any]:
    """Register ``[method]<resource>.headers`` and ``.consume`` of an incoming request or response."""

    def headers(ctx: WasiCtx, self: Any) -> ResourceHost:
        return ctx.own(ctx.get(self, cls).headers.snapshot(), Res.FIELDS)

    def consume(ctx: WasiCtx, self: Any) -> Optional[ResourceHost]:
        message = ctx.get(self, cls)
        body, message.body = message.body, None  # at most once: later calls get `err`
        return None if body is None else ctx.own(body, Res.INCOMING_BODY)

    TYPES.func(f"[method]{resource}.headers")(headers)
    TYPES.func(f"[method]{resource}.consume")(consume)
    return headers, consume


incoming_request_headers, incoming_request_consume = _incoming_message("incoming-request", IncomingRequest)


# outgoing-request


@TYPES.func("[constructor]outgoing-request")
def outgoing_request_new(ctx: WasiCtx, headers: Any) -> ResourceHost:
    fields = take(ctx, headers, Fields)
    fields.mutable = False
    return ctx.own(OutgoingRequest(fields), Res.OUTGOING_REQUEST)


def _new_body(
    ctx: WasiCtx, message: Any, kind: str, capacity: Optional[int], limit: Optional[int]
) -> Optional[ResourceHost]:
    if message.sink is not None:
        return None
    valid, length = content_length(message.headers)
    if not valid:
        return None
    message.sink = BodySink(capacity, limit)
    message.expected = length
    return ctx.own(OutgoingBody(message.sink, kind, length), Res.OUTGOING_BODY)


@TYPES.func("[method]outgoing-request.body")
def outgoing_request_body(ctx: WasiCtx, self: Any) -> Optional[ResourceHost]:
    from .body import DEFAULT_CAPACITY

    # streamed to the network by the client thread (window DEFAULT_CAPACITY); a send hook
    # collects it and sets the limit then (client.handle)
    return _new_body(ctx, ctx.get(self, OutgoingRequest), "request", DEFAULT_CAPACITY, None)


def _request_accessors(name: str, attr: str, valid: Callable[[Any], bool], optional: bool) -> tuple[Any, Any]:
    """Register ``[method]outgoing-request.<name>`` and ``set-<name>``; the setter gives ``err`` for invalid values."""

    def get(ctx: WasiCtx, self: Any) -> Any:
        return getattr(ctx.get(self, OutgoingRequest), attr)

    def put(ctx: WasiCtx, self: Any, value: Any) -> Variant:
        request = ctx.get(self, OutgoingRequest)
        if not (optional and value is None) and not valid(value):
            return ERR
        setattr(request, attr, value)
        return OK

    get.__name__ = f"outgoing_request_{attr}"
    put.__name__ = f"outgoing_request_set_{attr}"
    TYPES.func(f"[method]outgoing-request.{name}")(get)
    TYPES.func(f"[method]outgoing-request.set-{name}")(put)
    return get, put


outgoing_request_method, outgoing_request_set_method = _request_accessors("method", "method", valid_method, False)
outgoing_request_path_with_query, outgoing_request_set_path_with_query = _request_accessors(
    "path-with-query", "path_with_query", valid_path_with_query, True
)
outgoing_request_scheme, outgoing_request_set_scheme = _request_accessors("scheme", "scheme", valid_scheme, True)
outgoing_request_authority, outgoing_request_set_authority = _request_accessors(
    "authority", "authority", lambda authority: split_authority(authority) is not None, True
)


@TYPES.func("[method]outgoing-request.headers")
def outgoing_request_headers(ctx: WasiCtx, self: Any) -> ResourceHost:
    return ctx.own(ctx.get(self, OutgoingRequest).headers.snapshot(), Res.FIELDS)


# request-options


@TYPES.func("[constructor]request-options")
def request_options_new(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(RequestOptions(), Res.REQUEST_OPTIONS)


def _option_accessors(name: str, attr: str) -> None:
    def get(ctx: WasiCtx, self: Any) -> Optional[int]:
        value: Optional[int] = getattr(ctx.get(self, RequestOptions), attr)
        return value

    def put(ctx: WasiCtx, self: Any, duration: Optional[int]) -> Variant:
        setattr(ctx.get(self, RequestOptions), attr, duration)
        return OK

    get.__name__ = f"request_options_{attr}"
    put.__name__ = f"request_options_set_{attr}"
    TYPES.func(f"[method]request-options.{name}")(get)
    TYPES.func(f"[method]request-options.set-{name}")(put)


_option_accessors("connect-timeout", "connect")
_option_accessors("first-byte-timeout", "first_byte")
_option_accessors("between-bytes-timeout", "between_bytes")


# response-outparam


@TYPES.func("[static]response-outparam.set")
def response_outparam_set(ctx: WasiCtx, param: Any, response: Any) -> None:
    outparam = take(ctx, param, ResponseOutparam)
    if isinstance(response, Variant):
        outparam.result = response
    else:
        outparam.result = take(ctx, response, OutgoingResponse)
    outparam.is_set = True
    if outparam.on_set is not None:
        outparam.on_set(outparam.result)


# incoming-response


@TYPES.func("[method]incoming-response.status")
def incoming_response_status(ctx: WasiCtx, self: Any) -> int:
    return ctx.get(self, IncomingResponse).status


incoming_response_headers, incoming_response_consume = _incoming_message("incoming-response", IncomingResponse)


# incoming-body and future-trailers


@TYPES.func("[method]incoming-body.stream")
def incoming_body_stream(ctx: WasiCtx, self: Any) -> Optional[ResourceHost]:
    body = ctx.get(self, IncomingBody)
    if body.streamed:
        return None
    body.streamed = True
    return ctx.own(body.adopt(BodyInput(body.source)), Res.INPUT_STREAM)


@TYPES.func("[static]incoming-body.finish")
def incoming_body_finish(ctx: WasiCtx, this: Any) -> ResourceHost:
    body = take(ctx, this, IncomingBody)
    return ctx.own(FutureTrailers(body.source), Res.FUTURE_TRAILERS)


@TYPES.func("[method]future-trailers.subscribe")
def future_trailers_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    future = ctx.get(self, FutureTrailers)
    return ctx.own(future.adopt(Pollable(future.ready, signal=future.source.signal)), Res.POLLABLE)


@TYPES.func("[method]future-trailers.get")
def future_trailers_get(ctx: WasiCtx, self: Any) -> Optional[Variant]:
    """``option<result<result<option<trailers>, error-code>>>``.

    In the value model the inner ``result`` is untagged and its ``ok`` case
    (an ``option``) matches every Python value, so an ``err(error-code)``
    cannot be expressed there: a failed body reports ``ok(none)`` here (the
    failure already surfaced as the stream's ``last-operation-failed``).
    """
    future = ctx.get(self, FutureTrailers)
    if future.consumed:
        return ERR
    if not future.ready():
        return None
    future.consumed = True
    trailers = future.source.trailers
    if not trailers or future.source.error is not None:
        return Variant("ok", None)
    return Variant("ok", ctx.own(http_state(ctx).incoming_fields(trailers), Res.FIELDS))


# outgoing-response


@TYPES.func("[constructor]outgoing-response")
def outgoing_response_new(ctx: WasiCtx, headers: Any) -> ResourceHost:
    fields = take(ctx, headers, Fields)
    fields.mutable = False
    return ctx.own(OutgoingResponse(fields), Res.OUTGOING_RESPONSE)


@TYPES.func("[method]outgoing-response.status-code")
def outgoing_response_status_code(ctx: WasiCtx, self: Any) -> int:
    return ctx.get(self, OutgoingResponse).status


@TYPES.func("[method]outgoing-response.set-status-code")
def outgoing_response_set_status_code(ctx: WasiCtx, self: Any, status: int) -> Variant:
    response = ctx.get(self, OutgoingResponse)
    if not 100 <= status <= 999:  # what wasmtime's StatusCode::from_u16 accepts
        return ERR
    response.status = status
    return OK


@TYPES.func("[method]outgoing-response.headers")
def outgoing_response_headers(ctx: WasiCtx, self: Any) -> ResourceHost:
    return ctx.own(ctx.get(self, OutgoingResponse).headers.snapshot(), Res.FIELDS)


@TYPES.func("[method]outgoing-response.body")
def outgoing_response_body(ctx: WasiCtx, self: Any) -> Optional[ResourceHost]:
    # held until response-outparam.set decides how it is consumed, so bounded meanwhile
    return _new_body(ctx, ctx.get(self, OutgoingResponse), "response", None, http_state(ctx).max_body_bytes)


# outgoing-body


@TYPES.func("[method]outgoing-body.write")
def outgoing_body_write(ctx: WasiCtx, self: Any) -> Optional[ResourceHost]:
    body = ctx.get(self, OutgoingBody)
    if body.stream_taken:
        return None
    body.stream_taken = True
    stream = BodyOutput(body, http_state(ctx).strict_permits)
    return ctx.own(body.adopt(stream), Res.OUTPUT_STREAM)


@TYPES.func("[static]outgoing-body.finish")
def outgoing_body_finish(ctx: WasiCtx, this: Any, trailers: Any) -> Optional[Variant]:
    body = take(ctx, this, OutgoingBody)
    fields = None if trailers is None else take(ctx, trailers, Fields)
    body.done = True
    if body.sink.overflowed or (body.expected is not None and body.written != body.expected):
        body.sink.abort()
        return body.size_error()
    body.sink.finish(trailer_pairs(fields))
    return None


# future-incoming-response


@TYPES.func("[method]future-incoming-response.subscribe")
def future_incoming_response_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    future = ctx.get(self, FutureIncomingResponse)
    return ctx.own(future.adopt(Pollable(lambda: future.resolved, signal=future.signal)), Res.POLLABLE)


@TYPES.func("[method]future-incoming-response.get")
def future_incoming_response_get(ctx: WasiCtx, self: Any) -> Variant:
    """``option<result<result<incoming-response, error-code>>>`` (outer option tagged)."""
    future = ctx.get(self, FutureIncomingResponse)
    if not future.resolved:
        return Variant("none")
    if future.consumed:
        return Variant("some", None)
    future.consumed = True
    outcome, future.outcome = future.outcome, None
    if isinstance(outcome, IncomingResponse):
        return Variant("some", ctx.own(outcome, Res.INCOMING_RESPONSE))
    return Variant("some", outcome)


@TYPES.func("http-error-code")
def http_error_code(ctx: WasiCtx, err: Any) -> Optional[Variant]:
    error = ctx.get(err, IoError)
    return error.code if isinstance(error, HttpIoError) else None


__all__ = [
    "TYPES",
    "FutureIncomingResponse",
    "HttpState",
    "IncomingRequest",
    "IncomingResponse",
    "OutgoingRequest",
    "OutgoingResponse",
    "RequestOptions",
    "ResponseOutparam",
    "http_state",
]
