"""A served request's guest output and failures, written to the server's error log as whole lines.

:class:`~.wsgi.WsgiApp` and :class:`~.asgi.AsgiApp` give each request a
:class:`GuestLog`.  The guest's stdout and stderr (when the request's
``WasiConfig`` leaves them at the default, discarded) go to a
:class:`LineWriter` each, which holds the bytes of the current line and hands
the log complete lines only, so the output of concurrent requests never
interleaves mid-line.  Each line carries ``wasmtime serve``'s prefix,
``stdout [N] :: `` or ``stderr [N] :: `` with ``N`` the request's number in its
application.  What ends a request badly (a trap, no response, an unfinished
body) is logged once, as ``error [N] :: <message>``.

Where the lines go is an :data:`Emit` function ``emit(level, text, stream, request_id)``
(``level`` a :mod:`logging` level, ``stream`` ``"stdout"``, ``"stderr"`` or
``"error"``): :func:`errors_stream_emitter` writes to a text stream such as
WSGI's ``wsgi.errors``; the ASGI application calls a :class:`logging.Logger`.

    >>> lines = []
    >>> log = GuestLog(lambda level, text, stream, request_id: lines.append(text), 7)
    >>> log.stdout.write(b"hel")
    3
    >>> log.stdout.write(b"lo\\nwor")
    6
    >>> log.close()
    >>> lines
    ['stdout [7] :: hello', 'stdout [7] :: wor']
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

# emit(level, text, stream, request_id): one whole line (or one error message) to the server's log.
Emit = Callable[[int, str, str, int], None]

# A line longer than this is logged in pieces of this size, so a guest that never writes a
# newline cannot make the host hold unbounded output.
MAX_LINE_BYTES = 64 << 10

# Serializes writes to shared error streams (``wsgi.errors`` is often ``sys.stderr``), so that a
# line written by one request's thread is never split by another's.
_STREAM_LOCK = threading.Lock()


class LineWriter:
    """A binary writer (for ``WasiConfig.stdout_writer``) that emits whole lines.

    Used by one request's worker thread; :meth:`close` emits an unterminated
    last line at the end of the request.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        """Take ``data``; emit every line it completes (without the newline)."""
        pending = self._pending
        pending += data
        start = 0
        while True:
            end = pending.find(b"\n", start)
            if end < 0:
                break
            self._line(pending[start:end])
            start = end + 1
        del pending[:start]
        while len(pending) >= MAX_LINE_BYTES:  # an overlong line: log it in bounded pieces
            self._line(pending[:MAX_LINE_BYTES])
            del pending[:MAX_LINE_BYTES]
        return len(data)

    def flush(self) -> None:
        """Nothing: a partial line waits for its end (or :meth:`close`)."""

    def close(self) -> None:
        """Emit the unterminated last line, if any."""
        if self._pending:
            self._line(self._pending)
            self._pending = bytearray()

    def _line(self, raw: bytes | bytearray) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        self._emit(bytes(raw).decode("utf-8", "replace"))


class GuestLog:
    """One request's log: ``stdout``/``stderr`` line writers and :meth:`error`.

    ``request_id`` numbers the request in the prefixes.  ``emit`` receives
    stdout lines at ``stdout_level``, stderr lines at ``stderr_level`` and
    errors at ``logging.ERROR``.
    """

    def __init__(
        self,
        emit: Emit,
        request_id: int,
        stdout_level: int = logging.INFO,
        stderr_level: int = logging.WARNING,
    ) -> None:
        self.request_id = request_id
        self._emit = emit
        self.stdout = LineWriter(lambda line: emit(stdout_level, f"stdout [{request_id}] :: {line}", "stdout", request_id))
        self.stderr = LineWriter(lambda line: emit(stderr_level, f"stderr [{request_id}] :: {line}", "stderr", request_id))
        self._closed = False

    def route(self, config: Any) -> None:
        """Send the streams that ``config`` leaves at the default (discarded) to this log."""
        if config.stdout == ("discard",):
            config.stdout_writer(self.stdout)
        if config.stderr == ("discard",):
            config.stderr_writer(self.stderr)

    def close(self) -> None:
        """The request's guest call ended: emit the unterminated last lines (once)."""
        if not self._closed:
            self._closed = True
            self.stdout.close()
            self.stderr.close()

    def error(self, message: str) -> None:
        """Log what ended the request badly, as one entry at ERROR level."""
        self._emit(logging.ERROR, f"error [{self.request_id}] :: {message}", "error", self.request_id)


def errors_stream_emitter(stream: Any) -> Emit:
    """An :data:`Emit` writing each entry, newline-terminated, to the text stream ``stream``.

    Entries are written whole (one ``write`` under a lock) and flushed.  A
    stream that fails (closed, broken pipe) loses the entry rather than
    failing the guest's write.
    """

    def emit(level: int, text: str, kind: str, request_id: int) -> None:
        try:
            with _STREAM_LOCK:
                stream.write(text + "\n")
                flush = getattr(stream, "flush", None)
                if flush is not None:
                    flush()
        except (OSError, ValueError):
            pass

    return emit


def logger_emitter(logger: logging.Logger) -> Emit:
    """An :data:`Emit` logging each entry on ``logger`` (``extra``: ``wasm_request``, ``wasm_stream``)."""

    def emit(level: int, text: str, kind: str, request_id: int) -> None:
        logger.log(level, "%s", text, extra={"wasm_stream": kind, "wasm_request": request_id})

    return emit
