"""Serve a ``wasi:http/proxy`` component as an ASGI application.

Like :class:`~.wsgi.WsgiApp`, each request gets a fresh ``Store`` and
instance.  The request body is read from ``receive()`` in full, then the
component runs in a worker thread (``asyncio.to_thread``: a wasm call
blocks), so the event loop keeps serving other requests meanwhile; the
response goes out as one ``http.response.start`` and one
``http.response.body``.  A trap or an unfinished body raises, and the ASGI
server answers 500.  Lifespan events are accepted and acknowledged.

    app = AsgiApp(engine, Component.from_file(engine, "proxy.wasm"))
    # uvicorn module:app
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable
from wsgiref.util import is_hop_by_hop

from .server import FreshInstanceServer

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiApp(FreshInstanceServer):
    """An ASGI application calling ``component``'s ``wasi:http/incoming-handler`` (see :class:`FreshInstanceServer`)."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"unsupported ASGI scope type `{scope['type']}`")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(name.decode("latin-1"), value) for name, value in scope.get("headers", [])]
        response = await asyncio.to_thread(self.serve, scope["method"], _url(scope), headers, bytes(body))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(n.encode("latin-1"), v) for n, v in response.headers if not is_hop_by_hop(n)],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


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
