"""``wasi:http`` 0.2 on the Python WASI host: ``types``, ``outgoing-handler``, and serving.

* ``wasi:http/types`` (:mod:`.types`, with :mod:`.fields` and :mod:`.body`):
  every stable resource and function; ``add_wasip2`` defines it, so
  componentize-js components (which import it by default) and
  ``wasi:http/proxy`` components instantiate.
* ``wasi:http/outgoing-handler`` (:mod:`.client`): denied by default
  (``HTTP-request-denied``).  ``cfg.allow_outgoing_http()`` sends requests
  with ``http.client`` on a helper thread, to the addresses that
  ``cfg.socket_addr_check(addr, "tcp-connect")`` allows (the sockets'
  policy); ``cfg.http_send = hook`` answers them in Python instead
  (``hook(HttpRequest) -> HttpResponse``, or raise ``HttpSendError(code)``).
  ``cfg.http_forbidden_headers`` and ``cfg.http_field_size_limit`` tune the
  header rules.
* Serving (:mod:`.server`): ``handle_request(store, instance, method, url,
  headers, body) -> HttpResponse`` calls the component's
  ``wasi:http/incoming-handler`` export and holds the body (up to
  ``cfg.max_http_body_bytes``, else :class:`HttpBodyTooLarge`);
  ``handle_request_stream`` returns a :class:`StreamingResponse` whose body
  streams with a bounded window; :class:`~.wsgi.WsgiApp` and
  :class:`~.asgi.AsgiApp` serve it that way as a WSGI or ASGI application,
  one instance per request, with the guest's stdout/stderr and failures in
  the server's error log (``wsgi.errors`` / :mod:`logging`, see
  :mod:`.guestlog`).

Bodies are streamed where wasmtime streams them (served responses, outgoing
requests and their responses on the network) and otherwise held up to
``cfg.max_http_body_bytes``: the whole response of ``handle_request``, the
request body given to an ``http_send`` hook.
"""

from .asgi import AsgiApp
from .body import HttpIoError
from .client import OUTGOING_HANDLER, HttpRequest, HttpResponse, HttpSendError
from .codes import error
from .fields import DEFAULT_FIELD_SIZE_LIMIT, DEFAULT_FORBIDDEN_HEADERS, Fields, HeaderError
from .server import (
    NEVER_SET,
    STREAM_WINDOW,
    HttpBodyTooLarge,
    IncompleteResponse,
    StreamingResponse,
    find_incoming_handler,
    handle_request,
    handle_request_stream,
)
from .types import TYPES, HttpState, http_state
from .wsgi import WsgiApp

INTERFACES = [TYPES, OUTGOING_HANDLER]

__all__ = [
    "AsgiApp",
    "DEFAULT_FIELD_SIZE_LIMIT",
    "DEFAULT_FORBIDDEN_HEADERS",
    "INTERFACES",
    "NEVER_SET",
    "STREAM_WINDOW",
    "Fields",
    "HeaderError",
    "HttpBodyTooLarge",
    "HttpIoError",
    "HttpRequest",
    "HttpResponse",
    "HttpSendError",
    "HttpState",
    "IncompleteResponse",
    "StreamingResponse",
    "WsgiApp",
    "error",
    "find_incoming_handler",
    "handle_request",
    "handle_request_stream",
    "http_state",
]
