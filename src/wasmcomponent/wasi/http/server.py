"""Serving: call a component's ``wasi:http/incoming-handler`` export from Python.

:func:`handle_request` builds the ``incoming-request`` (headers, the body as
a complete stream) and a ``response-outparam``, calls ``handle``, and returns
what the guest answered as an :class:`~.client.HttpResponse`:

* ``response-outparam.set(ok(response))``: its status, headers and the body
  written to its ``outgoing-body`` (which must be ``finish``\\ ed — a body
  dropped without ``finish``, or never finished by the time ``handle``
  returns, raises :class:`IncompleteResponse`);
* ``set(err(code))``: 504 for timeouts, 502 for upstream failures, else 500,
  with the case name as the body;
* ``handle`` returned or trapped without calling ``set``: 500 with wasmtime's
  message "guest never invoked `response-outparam::set` method" (the trap, if
  any, is in ``response.error``);
* a trap after ``set`` re-raises it (a server would abort the connection).

The call is synchronous; a guest that makes outgoing requests needs
``cfg.allow_outgoing_http()`` (or ``cfg.http_send``).  wasmtime serves each
request with a fresh instance; callers who want that isolation instantiate
per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, Union
from urllib.parse import urlsplit

import wasmtime

from ..ctx import Res, set_wasi, wasi_ctx
from .body import BodySource, IncomingBody
from .client import HttpResponse
from .codes import method_value, scheme_value, status_for_error
from .types import IncomingRequest, OutgoingResponse, ResponseOutparam, http_state

NEVER_SET = "guest never invoked `response-outparam::set` method"
HANDLER = "wasi:http/incoming-handler"

HeadersLike = Union[Mapping[str, Union[str, bytes]], Iterable[tuple[str, Union[str, bytes]]]]


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


def handle_request(
    store: Any,
    instance: Any,
    method: str = "GET",
    url: str = "/",
    headers: HeadersLike = (),
    body: bytes = b"",
) -> HttpResponse:
    """Serve one request with ``instance``'s ``wasi:http/incoming-handler`` export.

    ``url`` is absolute (``http://example.com/a?b``) or a path (``/a?b``: the
    scheme is ``http`` and the authority comes from a ``Host`` header, else
    ``localhost``).  Forbidden headers (``host``, ``connection``, ...) are not
    passed to the guest.  Example::

        linker = wasmcomponent.Linker(engine)
        linker.add_wasip2()
        instance = linker.instantiate(store, component)
        resp = handle_request(store, instance, "POST", "/echo", {"content-type": "text/plain"}, b"hi")
        print(resp.status, resp.header("content-type"), resp.body)
    """
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
        IncomingBody(BodySource.of(body)),
    )
    outparam = ResponseOutparam()
    func = find_incoming_handler(store, instance)
    request_handle = ctx.own(request, Res.INCOMING_REQUEST)
    outparam_handle = ctx.own(outparam, Res.RESPONSE_OUTPARAM)
    failure: Optional[BaseException] = None
    try:
        func(store, request_handle, outparam_handle)
        func.post_return(store)
    except Exception as err:
        if outparam.is_set:
            raise
        failure = err
    if not outparam.is_set:
        return HttpResponse(500, [("content-type", b"text/plain")], NEVER_SET.encode(), error=failure)
    result = outparam.result
    if not isinstance(result, OutgoingResponse):
        return HttpResponse(status_for_error(result), [("content-type", b"text/plain")], result.tag.encode())
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


class FreshInstanceServer:
    """Serves each request with a fresh ``Store`` and instance of ``component`` (as ``wasmtime serve``).

    ``linker`` defaults to a linker with ``add_wasip2()``; ``config`` makes
    each request's :class:`~..config.WasiConfig` (default: deny everything).
    The base of :class:`~.wsgi.WsgiApp` and :class:`~.asgi.AsgiApp`.
    """

    def __init__(
        self,
        engine: Any,
        component: Any,
        linker: Any = None,
        config: Optional[Callable[[], Any]] = None,
    ) -> None:
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

    def serve(self, method: str, url: str, headers: HeadersLike, body: bytes) -> HttpResponse:
        """One request on a new instance (see :func:`handle_request`)."""
        store = wasmtime.Store(self.engine)
        set_wasi(store, self.config())
        instance = self.linker.instantiate(store, self.component)
        return handle_request(store, instance, method, url, headers, body)
