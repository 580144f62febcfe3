"""Serve a ``wasi:http/proxy`` component as an ASGI application.

Like :class:`~.wsgi.WsgiApp`, each request gets a fresh ``Store`` and
instance, made and called on a worker thread (a wasm call blocks), so the
event loop keeps serving other requests meanwhile.  Both bodies stream:

* the request body is pulled from ``receive()`` when the guest reads it (the
  worker thread asks the event loop for the next message), never ahead;
* the response goes out as ``http.response.start`` once the guest set it
  (the worker thread wakes the loop), then ``http.response.body`` messages,
  each with what the guest wrote since the last one (what is already
  written is taken on the loop; a worker thread waits only when nothing
  is), the last with ``more_body=False``; the host holds at most
  :data:`~.server.STREAM_WINDOW` bytes, the guest waiting for the client.

The server's log is the :mod:`logging` logger ``wasmcomponent.wasi.http``
(or ``logger=``), which receives (see :mod:`.guestlog`):

* the guest's stdout lines at INFO and its stderr lines at WARNING, unless
  the request's ``WasiConfig`` sends them elsewhere: whole lines,
  ``stdout [N] :: ...`` / ``stderr [N] :: ...`` with ``N`` the request's
  number, as ``wasmtime serve`` prints them (a Python guest's traceback
  arrives this way); records carry ``wasm_stream`` and ``wasm_request``;
* ``error [N] :: ...`` at ERROR when the request ended badly: a trap or no
  response before the response started (the client gets a 500), a trap or
  an unfinished body after it started.  In the second case the application
  sends the final ``http.response.body`` (``more_body=False``) and returns
  normally: the client sees a truncated body (``wasmtime serve`` cuts the
  connection), and the next request is served as usual.

uvicorn configures only its own loggers: pass ``logger="uvicorn.error"`` to
use its handlers and ``--log-level``, or configure ``wasmcomponent.wasi.http``
(otherwise Python's last-resort handler prints WARNING and above to stderr).
Lifespan events are accepted and acknowledged.

    app = AsgiApp(engine, Component.from_file(engine, "proxy.wasm"), logger="uvicorn.error")
    # uvicorn module:app
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any, Awaitable, Callable, Optional, Union
from wsgiref.util import is_hop_by_hop

from .guestlog import logger_emitter
from .server import FreshInstanceServer, _response

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# How long the worker waits for one ``receive()`` before checking whether the loop still runs.
RECEIVE_SLICE = 1.0
# At most this many body bytes are joined into one ``http.response.body`` message.
BURST_BYTES = 256 << 10
# The logger of the guest's output and failures, unless ``logger=`` names another.
LOGGER_NAME = "wasmcomponent.wasi.http"


class AsgiApp(FreshInstanceServer):
    """An ASGI application calling ``component``'s ``wasi:http/incoming-handler``.

    ``AsgiApp(engine, component, linker=None, config=None, *, log_output=True, logger=None)``:
    see :class:`~.server.FreshInstanceServer` for the first arguments;
    ``logger`` (a :class:`logging.Logger` or a name, default
    ``"wasmcomponent.wasi.http"``) receives the guest's output and failures
    (module docstring).  Example, with a configuration per request::

        def config() -> WasiConfig:
            cfg = WasiConfig()
            cfg.allow_outgoing_http()
            cfg.stdout_custom = metrics.feed  # kept: stderr still goes to the logger
            return cfg

        app = AsgiApp(engine, Component.from_file(engine, "proxy.wasm"), config=config, logger="uvicorn.error")
    """

    def __init__(
        self,
        engine: Any,
        component: Any,
        linker: Any = None,
        config: Optional[Callable[[], Any]] = None,
        *,
        log_output: bool = True,
        logger: Union[logging.Logger, str, None] = None,
    ) -> None:
        super().__init__(engine, component, linker, config, log_output=log_output)
        if not isinstance(logger, logging.Logger):
            logger = logging.getLogger(logger or LOGGER_NAME)
        self.logger = logger

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"unsupported ASGI scope type `{scope['type']}`")
        headers = [(name.decode("latin-1"), value) for name, value in scope.get("headers", [])]
        body = _Receiver(receive, asyncio.get_running_loop())
        log = self.new_log(logger_emitter(self.logger))
        exchange = self.exchange(scope["method"], _url(scope), headers, body, log)
        head = _wake_on_head(exchange)
        exchange.start()
        try:
            await head
        except BaseException:  # cancelled (client gone) before the guest answered
            exchange.abandon()
            raise
        response = _response(exchange)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(n.encode("latin-1"), v) for n, v in response.headers if not is_hop_by_hop(n)],
                }
            )
            ended = False
            while not ended:
                chunk, ended = response.ready(BURST_BYTES)  # what the guest wrote already: no thread
                if not chunk and not ended:
                    try:
                        chunk, ended = await asyncio.to_thread(_next_burst, response)  # waits for the guest
                    except BaseException:
                        if not response.guest_failed:
                            raise
                        chunk, ended = b"", True  # a trap or an unfinished body, logged by the worker
                await send({"type": "http.response.body", "body": chunk, "more_body": not ended})
        finally:
            response.close()  # a client gone (cancellation) or an error: the guest's writes see closed


def _wake_on_head(exchange: Any) -> asyncio.Future[None]:
    """A future of the running loop, done once the exchange's response head is known (or the call ended).

    The worker thread resolves it through ``call_soon_threadsafe``: no loop
    thread waits for it, where polling ``head.wait`` held one per request.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    def on_head() -> None:
        try:
            loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop closed: nobody waits any more
            pass

    exchange.on_head = on_head
    return future


def _next_burst(response: Any) -> tuple[bytes, bool]:
    """``(bytes, ended)``: the next body chunk, waited for, joined with what the guest wrote after it.

    One worker-thread hop and one ``http.response.body`` message per burst of
    guest writes rather than per write (a guest writing 4 KiB at a time made
    16 of each for a 64 KiB body).  Raises what :meth:`~.server.StreamingResponse.next_chunk` raises.
    """
    chunk = response.next_chunk()
    if chunk is None:
        return b"", True
    more, ended = response.ready(BURST_BYTES - len(chunk))
    return (chunk + more if more else chunk), ended


class _Receiver:
    """The request body as a reader for the worker thread: each ``read`` awaits ``receive()`` on the loop."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self.receive = receive
        self.loop = loop
        self.done = False

    def read(self, size: int) -> Optional[bytes]:
        """The next non-empty body bytes (one message's), None at the end."""
        while not self.done:
            message = self._next()
            if message.get("type") == "http.disconnect":
                self.done = True
                raise ConnectionResetError("the client disconnected")
            if not message.get("more_body", False):
                self.done = True
            body = message.get("body", b"")
            if body:
                return bytes(body)
        return None

    async def _receive(self) -> dict[str, Any]:
        return await self.receive()

    def _next(self) -> dict[str, Any]:
        # receive() is called on the loop, inside a coroutine: servers such as granian give an
        # awaitable that is no coroutine, or that must be made on the loop's thread
        future: concurrent.futures.Future[dict[str, Any]] = asyncio.run_coroutine_threadsafe(self._receive(), self.loop)
        while True:
            try:
                return future.result(RECEIVE_SLICE)
            except concurrent.futures.TimeoutError:
                if self.loop.is_closed() or not self.loop.is_running():
                    future.cancel()
                    raise ConnectionResetError("the event loop stopped") from None


def _url(scope: dict[str, Any]) -> str:
    """The request URL of an ASGI ``http`` scope (authority from ``Host``, else the server address)."""
    host = next((v.decode("latin-1") for n, v in scope.get("headers", []) if n.lower() == b"host"), None)
    if host is None and scope.get("server"):
        server_host, port = scope["server"]
        host = f"{server_host}:{port}" if port is not None else server_host
    path = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
    query = scope.get("query_string", b"")
    target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    return f"{scope.get('scheme', 'http')}://{host or 'localhost'}{target}"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
