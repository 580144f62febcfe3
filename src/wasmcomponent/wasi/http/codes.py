"""WIT values of ``wasi:http/types``: methods, schemes, ``error-code``, and syntax checks.

Values follow the runtime's value model: ``method``, ``scheme``,
``error-code`` and ``header-error`` are tagged, so they are
:class:`~wasmcomponent.types.values.Variant`\\ s whose tag is the WIT case
name as written (``Variant("HTTP-request-denied")``,
``Variant("other", "PURGE")``).
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any, Optional

from ...types.values import Record, Variant

METHODS = ("get", "head", "post", "put", "delete", "connect", "options", "trace", "patch")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]{0,63}")
_PATH = re.compile(r"[\x21-\x7e]*")
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]*")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+(%[A-Za-z0-9\-._~%]+)?\]")

# error-code cases answered with 504 / 502 when a guest sets them as its response (the rest: 500)
_GATEWAY_TIMEOUT = frozenset({"DNS-timeout", "connection-timeout", "connection-read-timeout", "HTTP-response-timeout"})
_BAD_GATEWAY = frozenset({
    "DNS-error",
    "destination-not-found",
    "destination-unavailable",
    "destination-IP-prohibited",
    "destination-IP-unroutable",
    "connection-refused",
    "connection-terminated",
    "connection-write-timeout",
    "connection-limit-reached",
    "TLS-protocol-error",
    "TLS-certificate-error",
    "TLS-alert-received",
    "HTTP-response-incomplete",
    "HTTP-response-header-section-size",
    "HTTP-response-header-size",
    "HTTP-response-body-size",
    "HTTP-response-trailer-section-size",
    "HTTP-response-trailer-size",
    "HTTP-response-transfer-coding",
    "HTTP-response-content-coding",
    "HTTP-protocol-error",
})


def error(case: str, payload: Any = None) -> Variant:
    """An ``error-code`` value, e.g. ``error("HTTP-request-denied")``."""
    return Variant(case, payload)


def internal_error(message: Optional[str]) -> Variant:
    return Variant("internal-error", message)


def status_for_error(code: Variant) -> int:
    """The status a server answers when the guest sets ``err(code)`` as its response."""
    if code.tag in _GATEWAY_TIMEOUT:
        return 504
    if code.tag in _BAD_GATEWAY:
        return 502
    return 500


def error_from_exception(err: BaseException, phase: str) -> Variant:
    """The ``error-code`` of a transport failure; ``phase`` is "connect" or "read"."""
    if isinstance(err, socket.gaierror):
        return Variant("DNS-error", Record(rcode=str(err.strerror or err), **{"info-code": None}))
    if isinstance(err, TimeoutError):
        return Variant("connection-timeout" if phase == "connect" else "connection-read-timeout")
    if isinstance(err, ConnectionRefusedError):
        return Variant("connection-refused")
    if isinstance(err, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return Variant("connection-terminated")
    if isinstance(err, ssl.SSLCertVerificationError):
        return Variant("TLS-certificate-error")
    if isinstance(err, ssl.SSLError):
        return Variant("TLS-protocol-error")
    if isinstance(err, OSError):
        return Variant("destination-unavailable" if phase == "connect" else "connection-terminated")
    return Variant("HTTP-protocol-error")


# ------------------------------------------------------------------ method and scheme


def method_value(name: str) -> Variant:
    """The ``method`` value of an HTTP method name (standard names case-sensitively, as HTTP)."""
    lower = name.lower()
    if lower in METHODS and name == name.upper():
        return Variant(lower)
    return Variant("other", name)


def method_name(method: Variant) -> str:
    """The HTTP method name of a ``method`` value."""
    if method.tag == "other":
        return str(method.payload)
    return method.tag.upper()


def valid_method(method: Any) -> bool:
    if not isinstance(method, Variant):
        return False
    if method.tag == "other":
        return isinstance(method.payload, str) and _TOKEN.fullmatch(method.payload) is not None
    return method.tag in METHODS


def scheme_value(name: str) -> Variant:
    lower = name.lower()
    if lower == "http":
        return Variant("HTTP")
    if lower == "https":
        return Variant("HTTPS")
    return Variant("other", name)


def scheme_name(scheme: Variant) -> str:
    if scheme.tag == "other":
        return str(scheme.payload).lower()
    return scheme.tag.lower()


def valid_scheme(scheme: Any) -> bool:
    if not isinstance(scheme, Variant):
        return False
    if scheme.tag == "other":
        return isinstance(scheme.payload, str) and _SCHEME.fullmatch(scheme.payload) is not None
    return scheme.tag in ("HTTP", "HTTPS")


def valid_path_with_query(path: str) -> bool:
    """Printable ASCII without spaces or a fragment."""
    return _PATH.fullmatch(path) is not None and "#" not in path


def split_authority(authority: str) -> Optional[tuple[str, Optional[int]]]:
    """``(host, port)`` of a ``host[:port]`` authority, or None when it is malformed.

    A port section, when present, must be a number up to 65535 (an empty or
    non-numeric one is rejected); IPv6 hosts are bracketed.
    """
    if not authority or "@" in authority:
        return None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0 or not _IPV6.fullmatch(authority[: end + 1]):
            return None
        host, rest = authority[1:end], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_raw = authority.partition(":")
        port_text = port_text_raw if sep else None
        if not host or _REG_NAME.fullmatch(host) is None:
            return None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
        return None
    return host, int(port_text)
