"""Serve a ``wasi:http/proxy`` component as a WSGI application.

Each request gets a fresh ``Store`` and instance, as ``wasmtime serve``
does, so requests cannot see each other's state; the component is compiled
once and the linker's preparation is cached, so a new instance is cheap.
The request goes through :func:`~.server.handle_request`; a trap or an
unfinished response body raises, and the WSGI server answers 500.

    from wsgiref.simple_server import make_server
    app = WsgiApp(engine, Component.from_file(engine, "proxy.wasm"))
    make_server("127.0.0.1", 8080, app).serve_forever()
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Iterable
from wsgiref.util import is_hop_by_hop, request_uri

from .server import FreshInstanceServer


class WsgiApp(FreshInstanceServer):
    """A WSGI application calling ``component``'s ``wasi:http/incoming-handler`` (see :class:`FreshInstanceServer`)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) > 0 else b""
        response = self.serve(environ["REQUEST_METHOD"], request_uri(environ), _headers(environ), body)
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        headers = [(name, value.decode("latin-1")) for name, value in response.headers if not is_hop_by_hop(name)]
        start_response(f"{response.status} {reason}".rstrip(), headers)
        return [response.body]


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request headers of a WSGI ``environ`` (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``)."""
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out.append((key[5:].replace("_", "-").lower(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            out.append((key.replace("_", "-").lower(), value))
    return out
