"""Serve a ``wasi:http/proxy`` component as a WSGI application.

Each request gets a fresh ``Store`` and instance, as ``wasmtime serve``
does, so requests cannot see each other's state; the component is compiled
once and the linker's preparation is cached, so a new instance is cheap.

Streaming (:func:`~.server.handle_request_stream`): the component runs on a
worker thread; ``start_response`` is called once the guest set its response,
and the returned iterable yields the body chunks as the guest writes them,
the host holding at most :data:`~.server.STREAM_WINDOW` bytes (the guest
waits for the client meanwhile).  The request body is read from
``wsgi.input`` when the guest reads it (up to ``CONTENT_LENGTH``, or to the
end with ``wsgi.input_terminated``), never ahead.  A trap after the response
started, or an unfinished body, raises from the iterable, and the WSGI
server aborts the response; the server's ``close()`` of the iterable (a
client gone) closes the guest's body stream.

    from wsgiref.simple_server import make_server
    app = WsgiApp(engine, Component.from_file(engine, "proxy.wasm"))
    make_server("127.0.0.1", 8080, app).serve_forever()
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Iterator, Optional
from wsgiref.util import is_hop_by_hop, request_uri

from .server import FreshInstanceServer, StreamingResponse


class WsgiApp(FreshInstanceServer):
    """A WSGI application calling ``component``'s ``wasi:http/incoming-handler`` (see :class:`FreshInstanceServer`)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> WsgiBody:
        response = self.serve_stream(environ["REQUEST_METHOD"], request_uri(environ), _headers(environ), _input(environ))
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        headers = [(name, value.decode("latin-1")) for name, value in response.headers if not is_hop_by_hop(name)]
        try:
            start_response(f"{response.status} {reason}".rstrip(), headers)
        except BaseException:
            response.close()
            raise
        return WsgiBody(response)


class WsgiBody:
    """The WSGI response iterable: the guest's body chunks; ``close()`` stops the guest's stream."""

    def __init__(self, response: StreamingResponse) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        self.response.close()


def _input(environ: dict[str, Any]) -> Any:
    """A pull function over ``wsgi.input``: never reads past ``CONTENT_LENGTH``."""
    stream: Any = environ.get("wsgi.input")
    length_text = environ.get("CONTENT_LENGTH") or ""
    if stream is None:
        return b""
    if length_text.isdigit():
        remaining = [int(length_text)]
    elif environ.get("wsgi.input_terminated"):
        remaining = [-1]
    else:
        return b""
    if remaining[0] == 0:
        return b""

    class Reader:
        def read(self, size: int) -> Optional[bytes]:
            left = remaining[0]
            if left == 0:
                return None
            data = stream.read(size if left < 0 else min(size, left))
            if not data:
                if left > 0:
                    raise ConnectionResetError("the client sent less than its content-length")
                return None
            if left > 0:
                remaining[0] = left - len(data)
            return bytes(data)

    return Reader()


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request headers of a WSGI ``environ`` (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``)."""
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out.append((key[5:].replace("_", "-").lower(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            out.append((key.replace("_", "-").lower(), value))
    return out
