"""Serving: call a component's ``wasi:http/incoming-handler`` export from Python.

Two ways, both answering what the guest set with ``response-outparam.set``:

* :func:`handle_request` calls ``handle`` on the caller's thread and returns
  a whole :class:`~.client.HttpResponse`.  It holds the response body, so it
  refuses to hold more than ``WasiConfig.max_http_body_bytes``: the guest's
  write past it fails with ``HTTP-response-body-size`` and the call raises
  :class:`HttpBodyTooLarge` (a ``ComponentError``) naming the setting.
* :func:`handle_request_stream` calls ``handle`` on a worker thread and
  returns a :class:`StreamingResponse` as soon as the guest set the response;
  iterating it yields the body chunks as the guest writes them.  The host
  holds at most a :data:`STREAM_WINDOW` of body (the guest's ``check-write``
  grants only the room left, ``blocking-write-and-flush`` waits for the
  consumer), whatever the body's size.  :class:`~.wsgi.WsgiApp` and
  :class:`~.asgi.AsgiApp` serve this way.

What the guest answers:

* ``set(ok(response))``: its status, headers and the body written to its
  ``outgoing-body`` (which must be ``finish``\\ ed — a body dropped without
  ``finish``, or never finished by the time ``handle`` returns, raises
  :class:`IncompleteResponse`);
* ``set(err(code))``: 504 for timeouts, 502 for upstream failures, else 500,
  with the case name as the body;
* ``handle`` returned or trapped without calling ``set``: 500 with wasmtime's
  message "guest never invoked `response-outparam::set` method" (the trap, if
  any, is in ``response.error``);
* a trap after ``set`` re-raises it from :func:`handle_request` and from the
  end of a :class:`StreamingResponse`'s body.  The WSGI and ASGI applications
  instead log it and end the response (the client sees a truncated body).

The request body is ``bytes``, a binary file-like object (``read(n)``) or an
iterable of ``bytes``: the last two are read as the guest reads, on the
guest's thread, never ahead (:class:`~.body.PullSource`).  A guest that makes
outgoing requests needs ``cfg.allow_outgoing_http()`` (or ``cfg.http_send``).
wasmtime serves each request with a fresh instance; callers who want that
isolation instantiate per call (:class:`FreshInstanceServer` does).

Served through :class:`FreshInstanceServer` with a :class:`~.guestlog.GuestLog`
(as the WSGI and ASGI applications do), the guest's stdout and stderr, unless
the request's configuration sends them elsewhere, go to the server's log as
whole lines, and what ends a request badly (a trap, no response, an
unfinished body) is logged there once, by the worker thread, before the
consumer sees the end of the body.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Callable, Optional, Union
from urllib.parse import urlsplit

import wasmtime

from ...errors import ComponentError
from ...types.values import Variant
from ..ctx import Res, set_wasi, wasi_ctx
from .body import WAIT_SLICE, BodyAborted, BodySink, BodySource, IncomingBody, PullSource
from .client import HttpResponse
from .codes import method_value, scheme_value, status_for_error
from .guestlog import Emit, GuestLog
from .types import IncomingRequest, OutgoingResponse, ResponseOutparam, http_state

NEVER_SET = "guest never invoked `response-outparam::set` method"
HANDLER = "wasi:http/incoming-handler"
# Body bytes a streamed response may hold between the guest and the consumer.
STREAM_WINDOW = 1 << 20

HeadersLike = Union[Mapping[str, Union[str, bytes]], Iterable[tuple[str, Union[str, bytes]]]]
# bytes, a binary reader (``read(n)``, b"" at the end) or an iterable of bytes
BodyLike = Any


class HttpBodyTooLarge(ComponentError):
    """A body the host had to hold whole passed ``WasiConfig.max_http_body_bytes``.

    Raised by :func:`handle_request` when the guest's response body is larger
    (the guest's write failed with ``HTTP-response-body-size``); stream such
    responses with :func:`handle_request_stream`.  ``limit`` is the setting's value.
    """

    setting = "max_http_body_bytes"

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class IncompleteResponse(Exception):
    """The guest set a response but did not finish its body; ``response`` holds what it sent."""

    def __init__(self, message: str, response: HttpResponse) -> None:
        super().__init__(message)
        self.response = response


def _header_pairs(headers: HeadersLike) -> list[tuple[str, bytes]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, bytes]] = []
    for name, value in items:
        out.append((str(name), value.encode("latin-1") if isinstance(value, str) else bytes(value)))
    return out


def find_incoming_handler(store: Any, instance: Any) -> Any:
    """The ``handle`` function of the instance's ``wasi:http/incoming-handler@0.2.x`` export."""
    names = [f"{HANDLER}@0.2.{patch}" for patch in range(0, 40)] + [HANDLER]
    for name in names:
        iface = instance.get_export_index(store, name)
        if iface is None:
            continue
        index = instance.get_export_index(store, "handle", iface)
        func = None if index is None else instance.get_func(store, index)
        if func is not None:
            return func
    raise LookupError(f"the component does not export {HANDLER}@0.2.x")


def _body_source(body: BodyLike) -> BodySource:
    """The incoming body of a served request (see the module docstring for what ``body`` may be)."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return BodySource.of(bytes(body))
    read = getattr(body, "read", None)
    if read is not None:
        return PullSource(lambda size: read(size) or None)
    chunks = iter(body)
    return PullSource(lambda size: next(chunks, None))


def _prepare(
    store: Any, instance: Any, method: str, url: str, headers: HeadersLike, source: BodySource,
    on_set: Optional[Callable[[Any], None]] = None,
) -> tuple[Any, Any, Any, ResponseOutparam]:
    """``(handle, request handle, outparam handle, outparam)`` for one call of ``handle``."""
    ctx = wasi_ctx(store)
    state = http_state(ctx)
    pairs = _header_pairs(headers)
    parts = urlsplit(url)
    host_header = next((v.decode("latin-1") for n, v in pairs if n.lower() == "host"), None)
    scheme = parts.scheme or "http"
    authority = parts.netloc or host_header or "localhost"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = IncomingRequest(
        method_value(method),
        path,
        scheme_value(scheme),
        authority,
        state.incoming_fields(pairs),
        IncomingBody(source),
    )
    outparam = ResponseOutparam(on_set)
    func = find_incoming_handler(store, instance)
    return func, ctx.own(request, Res.INCOMING_REQUEST), ctx.own(outparam, Res.RESPONSE_OUTPARAM), outparam


def _error_response(code: Variant) -> HttpResponse:
    return HttpResponse(status_for_error(code), [("content-type", b"text/plain")], code.tag.encode())


def _never_set(failure: Optional[BaseException]) -> HttpResponse:
    return HttpResponse(500, [("content-type", b"text/plain")], NEVER_SET.encode(), error=failure)


def _too_large(sink: BodySink) -> HttpBodyTooLarge:
    limit = sink.limit or 0
    return HttpBodyTooLarge(
        f"the guest's response body is larger than WasiConfig.max_http_body_bytes ({limit} bytes);"
        " stream it with handle_request_stream (WsgiApp/AsgiApp do) or raise the setting",
        limit,
    )


def handle_request(
    store: Any,
    instance: Any,
    method: str = "GET",
    url: str = "/",
    headers: HeadersLike = (),
    body: BodyLike = b"",
) -> HttpResponse:
    """Serve one request with ``instance``'s ``wasi:http/incoming-handler`` export.

    ``url`` is absolute (``http://example.com/a?b``) or a path (``/a?b``: the
    scheme is ``http`` and the authority comes from a ``Host`` header, else
    ``localhost``).  Forbidden headers (``host``, ``connection``, ...) are not
    passed to the guest.  The response body is held whole, up to
    ``WasiConfig.max_http_body_bytes`` (past it: :class:`HttpBodyTooLarge`).
    Example::

        linker = wasmcomponent.Linker(engine)
        linker.add_wasip2()
        instance = linker.instantiate(store, component)
        resp = handle_request(store, instance, "POST", "/echo", {"content-type": "text/plain"}, b"hi")
        print(resp.status, resp.header("content-type"), resp.body)
    """
    source = _body_source(body)
    func, request_handle, outparam_handle, outparam = _prepare(store, instance, method, url, headers, source)
    failure: Optional[BaseException] = None
    try:
        func(store, request_handle, outparam_handle)
        func.post_return(store)
    except Exception as err:
        if outparam.is_set:
            result = outparam.result
            if isinstance(result, OutgoingResponse) and result.sink is not None and result.sink.overflowed:
                raise _too_large(result.sink) from err
            raise
        failure = err
    finally:
        if not source.done:
            source.cancel()
    if not outparam.is_set:
        return _never_set(failure)
    result = outparam.result
    if not isinstance(result, OutgoingResponse):
        return _error_response(result)
    if result.sink is not None and result.sink.overflowed:
        raise _too_large(result.sink)
    return _collect(result)


def _collect(result: OutgoingResponse) -> HttpResponse:
    response = HttpResponse(result.status, list(result.headers.entries))
    sink = result.sink
    if sink is None:
        return response
    response.body = sink.collected()
    if sink.finished and not sink.aborted:
        response.trailers = sink.trailers
        return response
    reason = "dropped without finish" if sink.aborted else "not finished when handle returned"
    raise IncompleteResponse(f"the guest's response body was {reason}", response)


# An idle serving thread waits this long for its next exchange, then ends.
IDLE_WORKER_SECONDS = 30.0


class _Workers:
    """Daemon threads that run exchanges and are kept for the next ones.

    Starting a thread per request cost about a tenth of a millisecond, a
    tenth of what serving a small guest costs.  There is no cap: an exchange
    may wait for another (a guest calling its own server), so every exchange
    gets a thread at once, an idle one or a new one.  ``run`` hands a task
    to an idle thread only after reserving it under the lock, so a thread
    that times out at the same moment takes the task instead of leaving it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0

    def run(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._tasks.put(task)
                return
        threading.Thread(target=self._work, args=(task,), name="wasi-http-serve", daemon=True).start()

    def _work(self, task: Callable[[], None]) -> None:
        while True:
            task()
            del task  # the finished exchange (and its store) is not kept alive while idle
            with self._lock:
                self._idle += 1
            try:
                task = self._tasks.get(timeout=IDLE_WORKER_SECONDS)
            except queue.Empty:
                with self._lock:  # run() reserves and queues under this lock
                    try:
                        task = self._tasks.get_nowait()  # queued as this thread timed out
                    except queue.Empty:
                        self._idle -= 1
                        return


_WORKERS = _Workers()


class _Exchange:
    """One streamed call of ``handle``, run by :meth:`run` on a worker thread."""

    def __init__(self, setup: Callable[[], tuple[Any, Any]], method: str, url: str, headers: HeadersLike,
                 body: BodyLike, log: Optional[GuestLog] = None) -> None:
        self.setup = setup
        self.log = log  # where the end of a failed call is reported (and the guest's output flushed)
        self.args = (method, url, headers)
        self.source = _body_source(body)
        self.head = threading.Event()  # set, or the call ended
        self.done = threading.Event()
        self.is_set = False
        self.result: Any = None
        self.failure: Optional[BaseException] = None
        self.started = False  # handle was called (setup succeeded)
        self.unfinished = False  # handle returned with the body neither finished nor dropped
        self.abandoned = False
        # Called on the worker thread each time ``head`` is set (an async server wakes its loop with it).
        self.on_head: Optional[Callable[[], None]] = None

    def start(self) -> None:
        _WORKERS.run(self.run)

    def abandon(self) -> None:
        """Nobody will consume the response (the caller went away): the guest's body writes see closed."""
        self.abandoned = True
        result = self.result
        if isinstance(result, OutgoingResponse) and result.sink is not None:
            result.sink.close()

    def on_set(self, result: Any) -> None:
        self.result = result  # before looking at `abandoned`, which abandon() sets before looking here
        if isinstance(result, OutgoingResponse) and result.sink is not None:
            sink = result.sink
            with sink.cond:  # from now on a consumer drains it: stream with a window, no whole-body cap
                sink.capacity = STREAM_WINDOW
                sink.limit = None
                sink.cond.notify_all()
            if self.abandoned:
                sink.close()
        self.is_set = True
        self._head_known()

    def run(self) -> None:
        try:
            store, instance = self.setup()
            func, request, outparam, _ = _prepare(store, instance, *self.args, self.source, self.on_set)
            self.started = True
            func(store, request, outparam)
            func.post_return(store)
        except BaseException as err:  # reported to the consumer (a thread must not lose it)
            self.failure = err
        finally:
            if not self.source.done:
                self.source.cancel()
            result = self.result
            if isinstance(result, OutgoingResponse) and result.sink is not None and not result.sink.finished:
                self.unfinished = not result.sink.aborted
                result.sink.abort()  # the guest can write no more: the body is cut short
            if self.log is not None:  # before `done`: the consumer then sees the log complete
                self._log_end(self.log)
            self.done.set()
            self._head_known()

    def _head_known(self) -> None:
        self.head.set()
        if self.on_head is not None:
            self.on_head()

    def _log_end(self, log: GuestLog) -> None:
        """Flush the guest's last output lines and log what ended the call badly, if anything."""
        log.close()
        failure = self.failure
        if not self.started:
            return  # no instance: raised to the server by _response, which reports it
        if not self.is_set:
            log.error(NEVER_SET if failure is None else f"{NEVER_SET}: {describe_failure(failure)}")
        elif failure is not None:
            log.error(f"the guest failed after the response started: {describe_failure(failure)}")
        elif isinstance(self.result, OutgoingResponse) and self.result.sink is not None:
            if not self.result.sink.finished:
                reason = "not finished when handle returned" if self.unfinished else "dropped without finish"
                log.error(f"the guest's response body was {reason}")


def describe_failure(err: BaseException) -> str:
    """A failure as a log line: a wasmtime error's own message, else ``Type: message``."""
    if isinstance(err, wasmtime.WasmtimeError):
        return str(err)
    return f"{type(err).__name__}: {err}"


class StreamingResponse:
    """A response being served: ``status`` and ``headers`` now, the body as the guest writes it.

    Iterate it (or call :meth:`next_chunk`) for the body chunks; the end
    raises :class:`IncompleteResponse` if the body was not finished, or the
    guest's trap if it trapped while writing.  ``trailers`` is set once the
    body ended.  :meth:`close` stops early: the guest's next write sees a
    closed stream.  :meth:`join` waits for the call of ``handle`` to end
    (``error`` then holds a trap that came after the body).  ``guest_failed``
    is True once the end of the body raised the guest's failure (a trap or an
    unfinished body), as opposed to an error of the consumer's own.
    """

    def __init__(self, exchange: _Exchange, response: HttpResponse, sink: Optional[BodySink]) -> None:
        self.exchange = exchange
        self.status = response.status
        self.headers = response.headers
        self.error: Optional[BaseException] = response.error
        self.trailers: Optional[list[tuple[str, bytes]]] = None
        self._sink = sink
        self._body = response.body  # a fixed body (error answers)
        self._ended = False
        self.guest_failed = False

    def header(self, name: str) -> Optional[bytes]:
        """The first value of header ``name`` (case-insensitive), or None."""
        key = name.lower()
        return next((v for n, v in self.headers if n.lower() == key), None)

    def next_chunk(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next body chunk (non-empty), None at the end, b"" if ``timeout`` passed first."""
        if self._ended:
            return None
        sink = self._sink
        if sink is None:
            self._ended = True
            body, self._body = self._body, b""
            return body or None
        waited = 0.0
        while True:
            try:
                chunk = sink.take(WAIT_SLICE if timeout is None else min(WAIT_SLICE, timeout))
            except BodyAborted:
                self._ended = True
                self._fail()
            if chunk is None:
                self._ended = True
                self.trailers = sink.trailers
                return None
            if isinstance(chunk, bytes):
                if chunk:
                    return chunk
                continue
            if timeout is not None:
                waited += WAIT_SLICE
                if waited >= timeout:
                    return b""

    def _fail(self) -> None:
        exchange = self.exchange
        # cut short by a trap: the worker aborts the body just before the call is marked done
        exchange.done.wait(1.0)
        self.guest_failed = True
        if exchange.failure is not None:
            self.error = exchange.failure
            raise exchange.failure
        reason = "not finished when handle returned" if exchange.unfinished else "dropped without finish"
        raise IncompleteResponse(
            f"the guest's response body was {reason}", HttpResponse(self.status, list(self.headers))
        )

    def ready(self, limit: int = STREAM_WINDOW) -> tuple[bytes, bool]:
        """``(bytes, ended)``: what the guest has written so far, up to about ``limit``, without waiting.

        ``ended`` is True once the body finished (``trailers`` is then set).
        It never raises the guest's failure: a body cut short gives what was
        written before, then ``(b"", False)``, and :meth:`next_chunk` raises.
        """
        if self._ended:
            return b"", True
        sink = self._sink
        if sink is None:
            self._ended = True
            body, self._body = self._body, b""
            return body, True
        parts: list[bytes] = []
        size = 0
        while size < limit:
            try:
                chunk = sink.take(0)
            except BodyAborted:
                break
            if chunk is None:
                self._ended = True
                self.trailers = sink.trailers
                return b"".join(parts), True
            if not isinstance(chunk, bytes):  # False: nothing more yet
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts), False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.next_chunk()
            if chunk is None:
                return
            yield chunk

    def read(self) -> bytes:
        """The whole body (no cap: the caller chose to hold it)."""
        return b"".join(self)

    def close(self) -> None:
        """Stop consuming: the guest's writes see a closed stream; buffered bytes are released."""
        self._ended = True
        if self._sink is not None:
            self._sink.close()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait until the call of ``handle`` ended; True if it did."""
        done = self.exchange.done.wait(timeout)
        if done and self.error is None:
            self.error = self.exchange.failure
        return done


def _start(exchange: _Exchange) -> StreamingResponse:
    exchange.start()
    try:
        while not exchange.head.wait(WAIT_SLICE):
            pass
    except BaseException:  # interrupted: the guest must not wait for a consumer that never comes
        exchange.abandon()
        raise
    return _response(exchange)


def _response(exchange: _Exchange) -> StreamingResponse:
    """The :class:`StreamingResponse` of an exchange whose head is known (``exchange.head`` is set)."""
    if not exchange.is_set:
        if exchange.failure is not None and not exchange.started:
            raise exchange.failure  # the instance could not be made: not a guest answer
        return StreamingResponse(exchange, _never_set(exchange.failure), None)
    result = exchange.result
    if not isinstance(result, OutgoingResponse):
        return StreamingResponse(exchange, _error_response(result), None)
    return StreamingResponse(exchange, HttpResponse(result.status, list(result.headers.entries)), result.sink)


def handle_request_stream(
    store: Any,
    instance: Any,
    method: str = "GET",
    url: str = "/",
    headers: HeadersLike = (),
    body: BodyLike = b"",
) -> StreamingResponse:
    """Like :func:`handle_request`, but the body streams: returns once the guest set the response.

    ``handle`` runs on a worker thread, which uses ``store`` until the call
    ends: do not touch the store before :meth:`StreamingResponse.join`
    returns True.  Example::

        resp = handle_request_stream(store, instance, "GET", "/big")
        with open("out", "wb") as out:
            for chunk in resp:      # at most STREAM_WINDOW bytes held by the host
                out.write(chunk)
    """
    return _start(_Exchange(lambda: (store, instance), method, url, headers, body))


class FreshInstanceServer:
    """Serves each request with a fresh ``Store`` and instance of ``component`` (as ``wasmtime serve``).

    The base of :class:`~.wsgi.WsgiApp` and :class:`~.asgi.AsgiApp`, which
    take the same arguments:

    * ``linker``: defaults to a new linker with ``add_wasip2()``.
    * ``config``: a function called once per request that returns that
      request's :class:`~..config.WasiConfig` (a native ``wasmtime.WasiConfig``
      works too).  Default: ``WasiConfig()``, which denies everything.  A
      factory, not one object, because each store consumes its own
      configuration and requests run concurrently.
    * ``log_output``: when True (the default), the guest's stdout and stderr
      that the configuration leaves at the default (discarded) go to the
      server's error log as whole lines, ``stdout [N] :: ...`` /
      ``stderr [N] :: ...`` (``N`` numbers the request), as ``wasmtime serve``
      prints them.  A configuration that sets stdout or stderr itself
      (``inherit_stdout()``, ``stdout_file``, ``stdout_buffer()``, ...) keeps
      its choice; ``log_output=False`` discards what it leaves unset.

    Example: let the guest send HTTP requests and read ``./static`` and keep
    its stdout on the terminal (stderr still goes to the server's log)::

        def config() -> WasiConfig:
            cfg = WasiConfig()
            cfg.allow_outgoing_http()
            cfg.preopen_dir("./static", "/static", fs_mutable=False)
            cfg.inherit_stdout()
            return cfg

        app = WsgiApp(engine, component, config=config)
    """

    # The levels of the guest's stdout and stderr lines on a logger (errors are ERROR).
    stdout_level = logging.INFO
    stderr_level = logging.WARNING

    def __init__(
        self,
        engine: Any,
        component: Any,
        linker: Any = None,
        config: Optional[Callable[[], Any]] = None,
        *,
        log_output: bool = True,
    ) -> None:
        if config is not None and not callable(config):
            raise TypeError(
                f"config= takes a function returning a fresh WasiConfig for each request"
                f" (for example `config=make_config`), not a {type(config).__name__}"
            )
        if linker is None:
            from ...runtime.linker import Linker

            linker = Linker(engine)
            linker.add_wasip2()
        if config is None:
            from ..config import WasiConfig

            config = WasiConfig
        self.engine = engine
        self.component = component
        self.linker = linker
        self.config = config
        self.log_output = log_output
        self._request_ids = itertools.count()

    def new_log(self, emit: Emit) -> GuestLog:
        """The :class:`~.guestlog.GuestLog` of a new request, writing to ``emit``."""
        return GuestLog(emit, next(self._request_ids), self.stdout_level, self.stderr_level)

    def instantiate(self, log: Optional[GuestLog] = None) -> tuple[Any, Any]:
        """A new ``(store, instance)``; with ``log``, the output the configuration leaves unset goes there."""
        store = wasmtime.Store(self.engine)
        config = self.config()
        if log is not None and self.log_output:
            readable = _readable(config)
            if readable is not None:
                log.route(readable)
                config = readable
        set_wasi(store, config)
        return store, self.linker.instantiate(store, self.component)

    def serve(self, method: str, url: str, headers: HeadersLike, body: BodyLike) -> HttpResponse:
        """One request on a new instance, answered whole (see :func:`handle_request`)."""
        store, instance = self.instantiate()
        return handle_request(store, instance, method, url, headers, body)

    def serve_stream(
        self, method: str, url: str, headers: HeadersLike, body: BodyLike, log: Optional[GuestLog] = None
    ) -> StreamingResponse:
        """One request on a new instance, made and called on a worker thread (see :func:`handle_request_stream`)."""
        return _start(self.exchange(method, url, headers, body, log))

    def exchange(
        self, method: str, url: str, headers: HeadersLike, body: BodyLike, log: Optional[GuestLog] = None
    ) -> _Exchange:
        """The (not yet started) exchange of one request on a new instance (for async servers)."""
        return _Exchange(lambda: self.instantiate(log), method, url, headers, body, log)


def _readable(config: Any) -> Any:
    """``config`` as a :class:`~..config.WasiConfig` whose streams can be read and changed, or None.

    A native ``wasmtime.WasiConfig`` is rebuilt from its recorded options.
    None for one created before ``import wasmcomponent`` (it has no record;
    ``set_wasi`` makes its use fail with a clear error) and for objects that
    are no configuration at all (``set_wasi`` raises ``TypeError``).
    """
    from ..config import WasiConfig
    from ..recorder import recorded, replay

    if isinstance(config, WasiConfig):
        return config
    if not isinstance(config, wasmtime.WasiConfig):
        return None
    calls = recorded(config)
    return None if calls is None else replay(calls)
