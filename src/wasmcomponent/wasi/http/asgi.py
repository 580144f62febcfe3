"""Serve a ``wasi:http/proxy`` component as an ASGI application.

Like :class:`~.wsgi.WsgiApp`, each request gets a fresh ``Store`` and
instance, made and called on a worker thread (a wasm call blocks), so the
event loop keeps serving other requests meanwhile.  Both bodies stream:

* the request body is pulled from ``receive()`` when the guest reads it (the
  worker thread asks the event loop for the next message), never ahead;
* the response goes out as ``http.response.start`` once the guest set it,
  then one ``http.response.body`` message (``more_body=True``) per chunk the
  guest writes, and a last empty one; the host holds at most
  :data:`~.server.STREAM_WINDOW` bytes, the guest waiting for the client.

A trap or an unfinished body raises (after the start message: the ASGI
server aborts the response).  Lifespan events are accepted and acknowledged.

    app = AsgiApp(engine, Component.from_file(engine, "proxy.wasm"))
    # uvicorn module:app
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Awaitable, Callable, Optional
from wsgiref.util import is_hop_by_hop

from .body import WAIT_SLICE
from .server import FreshInstanceServer, _response

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# How long the worker waits for one ``receive()`` before checking whether the loop still runs.
RECEIVE_SLICE = 1.0


class AsgiApp(FreshInstanceServer):
    """An ASGI application calling ``component``'s ``wasi:http/incoming-handler`` (see :class:`FreshInstanceServer`)."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"unsupported ASGI scope type `{scope['type']}`")
        headers = [(name.decode("latin-1"), value) for name, value in scope.get("headers", [])]
        body = _Receiver(receive, asyncio.get_running_loop())
        exchange = self.exchange(scope["method"], _url(scope), headers, body)
        exchange.start()
        try:
            while not await asyncio.to_thread(exchange.head.wait, WAIT_SLICE):
                pass
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
            while True:
                chunk = await asyncio.to_thread(response.next_chunk)  # it may wait for the guest
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.close()  # a client gone (cancellation) or an error: the guest's writes see closed


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

    def _next(self) -> dict[str, Any]:
        coroutine: Any = self.receive()  # an awaitable; ASGI servers give a coroutine function
        future: concurrent.futures.Future[dict[str, Any]] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
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
