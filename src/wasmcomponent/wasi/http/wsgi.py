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
end with ``wsgi.input_terminated``), never ahead.  The server's ``close()``
of the iterable (a client gone) closes the guest's body stream.

The server's error log, ``environ["wsgi.errors"]``, receives (see
:mod:`.guestlog`):

* the guest's stdout and stderr, unless the request's ``WasiConfig`` sends
  them elsewhere, one whole line per ``write``: ``stdout [N] :: ...`` and
  ``stderr [N] :: ...`` with ``N`` the request's number, as ``wasmtime
  serve`` prints them (a Python guest's traceback arrives this way);
* ``error [N] :: ...`` when the request ended badly: a trap or no response
  before the response started (the client gets a 500), a trap or an
  unfinished body after it started.  In the second case the iterable just
  stops: the server ends the response and the client sees a truncated body
  (``wasmtime serve`` cuts the connection), and the next request is served as
  usual.

    from wsgiref.simple_server import make_server
    app = WsgiApp(engine, Component.from_file(engine, "proxy.wasm"))
    make_server("127.0.0.1", 8080, app).serve_forever()
"""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any, Callable, Iterator, Optional
from wsgiref.util import is_hop_by_hop, request_uri

from .guestlog import errors_stream_emitter
from .server import FreshInstanceServer, StreamingResponse


class WsgiApp(FreshInstanceServer):
    """A WSGI application calling ``component``'s ``wasi:http/incoming-handler``.

    ``WsgiApp(engine, component, linker=None, config=None, *, log_output=True)``:
    see :class:`~.server.FreshInstanceServer` for the arguments.  The guest's
    output and failures go to ``environ["wsgi.errors"]`` (module docstring).
    Example, with a configuration per request::

        def config() -> WasiConfig:
            cfg = WasiConfig()
            cfg.env = {"MODE": "production"}
            cfg.stderr_file = "/var/log/guest-stderr.log"  # kept: stdout still goes to wsgi.errors
            return cfg

        app = WsgiApp(engine, Component.from_file(engine, "proxy.wasm"), config=config)
    """

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> WsgiBody:
        log = self.new_log(errors_stream_emitter(environ.get("wsgi.errors") or sys.stderr))
        response = self.serve_stream(
            environ["REQUEST_METHOD"], request_uri(environ), _headers(environ), _input(environ), log
        )
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
    """The WSGI response iterable: the guest's body chunks; ``close()`` stops the guest's stream.

    A guest failure at the end of the body (already logged by the worker)
    stops the iteration instead of raising into the server.
    """

    def __init__(self, response: StreamingResponse) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        response = self.response
        try:
            yield from response
        except BaseException:
            if not response.guest_failed:
                raise

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
