"""WSGI/ASGI defaults: the guest's output and failures reach the server's error log.

The componentize-py guest of tests/guests/http serves ``/print`` (stdout and
stderr lines, each stdout line written in two pieces, and an unterminated
last line) and ``/trap-after`` (a trap after the response started).  Checked:

* by default stdout/stderr lines reach ``wsgi.errors`` / the
  ``wasmcomponent.wasi.http`` logger as whole lines with ``wasmtime serve``'s
  prefix (``stdout [N] :: ``), the unterminated line at the end of the call;
* concurrent requests (threads for WSGI, ``asyncio.gather`` for ASGI) never
  mix within a line, and every line belongs to one request;
* a configuration that sets stdout keeps it; ``log_output=False`` discards;
* a trap after the response started is logged with its message and ends the
  response (no exception out of the WSGI iterable or the ASGI app), and the
  next request is served; a trap before it gives a 500 and is logged.

Every wait has a deadline, so no test can hang.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Optional
from wsgiref.util import setup_testing_defaults

import pytest
import wasmtime

import wasmcomponent
from wasmcomponent.wasi import WasiConfig
from wasmcomponent.wasi.http import NEVER_SET, AsgiApp, WsgiApp
from wasmcomponent.wasi.http.guestlog import MAX_LINE_BYTES, GuestLog, LineWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasi_guests import build, engine

TIMEOUT = 30.0
LINE = re.compile(r"^(stdout|stderr) \[(\d+)\] :: (\S+) (out \d+ end|err \d+|print|tail)$")
LOGGER = "wasmcomponent.wasi.http"


@pytest.fixture(scope="module")
def guest() -> tuple[wasmtime.Engine, Any]:
    eng = engine()
    return eng, wasmcomponent.Component.from_file(eng, str(build("http")))


def expected_print_lines(tag: str, n: int) -> list[tuple[str, str]]:
    """What ``/print?tag=T&n=N`` writes, as ``(stream, text)`` in order."""
    lines: list[tuple[str, str]] = []
    for i in range(n):
        lines += [("stdout", f"{tag} out {i} end"), ("stderr", f"{tag} err {i}")]
    return lines + [("stdout", f"{tag} print"), ("stdout", f"{tag} tail")]


def parse(lines: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Guest output lines grouped by request number: ``{N: [(stream, text), ...]}``; each line must parse."""
    by_request: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in lines:
        match = LINE.match(line)
        assert match is not None, f"not a whole guest line: {line!r}"
        stream, number, tag, rest = match.groups()
        by_request[number].append((stream, f"{tag} {rest}"))
    return by_request


# ------------------------------------------------------------------ WSGI


class ByCharacter(io.StringIO):
    """An error stream that stores each write a character at a time, yielding the GIL in between.

    Writes from several threads that are not serialized would interleave here.
    """

    def write(self, text: str) -> int:
        for char in text:
            super().write(char)
            time.sleep(0)
        return len(text)


def wsgi_call(app: WsgiApp, path: str, query: str = "", errors: Optional[io.StringIO] = None) -> tuple[str, bytes]:
    """``(status, body)`` of one request; waits until the guest's call ended (its last lines are logged then)."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}
    if errors is not None:
        environ["wsgi.errors"] = errors
    setup_testing_defaults(environ)
    started: list[str] = []
    result = app(environ, lambda status, headers: started.append(status))
    try:
        body = b"".join(result)
    finally:
        result.close()
    assert result.response.join(TIMEOUT), "the guest's call did not end"
    return started[0], body


def test_wsgi_guest_output_reaches_wsgi_errors(guest: Any) -> None:
    app = WsgiApp(*guest)
    errors = io.StringIO()
    status, body = wsgi_call(app, "/print", "tag=A&n=3", errors)
    assert (status, body) == ("200 OK", b"A")
    by_request = parse(errors.getvalue().splitlines())
    assert list(by_request.values()) == [expected_print_lines("A", 3)]
    # the next request has the next number
    second = io.StringIO()
    wsgi_call(app, "/print", "tag=B&n=1", second)
    (first_number,) = by_request
    assert list(parse(second.getvalue().splitlines())) == [str(int(first_number) + 1)]


def test_wsgi_concurrent_requests_keep_lines_whole(guest: Any) -> None:
    app = WsgiApp(*guest)
    errors = ByCharacter()
    tags = [f"T{i}" for i in range(6)]
    failures: list[BaseException] = []

    def serve(tag: str) -> None:
        try:
            assert wsgi_call(app, "/print", f"tag={tag}&n=15", errors) == ("200 OK", tag.encode())
        except BaseException as err:  # reported below
            failures.append(err)

    threads = [threading.Thread(target=serve, args=(tag,)) for tag in tags]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 4)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)
    by_request = parse(errors.getvalue().splitlines())
    # one request per tag, each with exactly its own lines, in its order
    assert sorted(by_request.values()) == sorted(expected_print_lines(tag, 15) for tag in tags)


def test_wsgi_config_that_sets_stdout_keeps_it(guest: Any) -> None:
    eng, comp = guest
    buffers: list[bytearray] = []

    def config() -> WasiConfig:
        cfg = WasiConfig()
        buffers.append(cfg.stdout_buffer())
        return cfg

    errors = io.StringIO()
    wsgi_call(WsgiApp(eng, comp, config=config), "/print", "tag=C&n=2", errors)
    assert bytes(buffers[0]) == b"C out 0 end\nC out 1 end\nC print\nC tail"
    assert [text for _, text in parse(errors.getvalue().splitlines())["0"]] == ["C err 0", "C err 1"]


def test_wsgi_native_wasmtime_config_is_routed_too(guest: Any) -> None:
    eng, comp = guest
    seen: list[bytes] = []

    def config() -> wasmtime.WasiConfig:
        cfg = wasmtime.WasiConfig()
        cfg.stderr_custom = seen.append  # kept; stdout left unset goes to wsgi.errors
        return cfg

    errors = io.StringIO()
    wsgi_call(WsgiApp(eng, comp, config=config), "/print", "tag=N&n=1", errors)
    assert b"".join(seen) == b"N err 0\n"
    assert [s for s, _ in parse(errors.getvalue().splitlines())["0"]] == ["stdout"] * 3


def test_wsgi_log_output_false_discards(guest: Any) -> None:
    app = WsgiApp(*guest, log_output=False)
    errors = io.StringIO()
    assert wsgi_call(app, "/print", "tag=D&n=2", errors) == ("200 OK", b"D")
    assert errors.getvalue() == ""
    # failures are still logged
    status, _ = wsgi_call(app, "/noset", "", errors)
    assert status.startswith("500") and errors.getvalue() == f"error [1] :: {NEVER_SET}\n"


def test_wsgi_trap_after_the_response_started_ends_it_cleanly(guest: Any) -> None:
    app = WsgiApp(*guest)
    errors = io.StringIO()
    status, body = wsgi_call(app, "/trap-after", "", errors)  # no exception out of the iterable
    assert (status, body) == ("200 OK", b"partial body")
    log = errors.getvalue()
    assert "stderr [0] :: RuntimeError: guest failure after set\n" in log  # the guest's traceback, line by line
    error = log[log.index("error [0] :: "):]
    assert error.startswith("error [0] :: the guest failed after the response started: ")
    assert "wasm trap: wasm `unreachable` instruction executed" in error
    assert log.index("stderr [0] :: RuntimeError") < log.index("error [0] :: ")
    # the application serves the next request as usual
    assert wsgi_call(app, "/hello", "", io.StringIO())[0] == "200 OK"


def test_wsgi_unfinished_body_is_logged_and_ends_the_response(guest: Any) -> None:
    app = WsgiApp(*guest)
    errors = io.StringIO()
    assert wsgi_call(app, "/unfinished", "", errors) == ("200 OK", b"half")
    assert errors.getvalue() == "error [0] :: the guest's response body was dropped without finish\n"


def test_wsgi_trap_before_the_response_started_is_a_logged_500(guest: Any) -> None:
    app = WsgiApp(*guest)
    errors = io.StringIO()
    status, body = wsgi_call(app, "/trap", "", errors)
    assert status == "500 Internal Server Error" and body == NEVER_SET.encode()
    log = errors.getvalue()
    assert "stderr [0] :: RuntimeError: guest failure before set\n" in log
    assert f"error [0] :: {NEVER_SET}: error while executing" in log and "wasm trap" in log


def test_config_must_be_a_factory(guest: Any) -> None:
    with pytest.raises(TypeError, match="function returning a fresh WasiConfig"):
        WsgiApp(*guest, config=WasiConfig())


# ------------------------------------------------------------------ ASGI


async def asgi_call(app: AsgiApp, path: str, query: bytes = b"") -> list[dict[str, Any]]:
    scope = {"type": "http", "method": "GET", "path": path, "scheme": "http", "query_string": query,
             "headers": [(b"host", b"localhost")]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def guest_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def wait_for(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds: a call's last line is logged when the call ends, after the response."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the guest's calls did not end"
        time.sleep(0.01)


def test_asgi_guest_output_reaches_the_logger_concurrently(guest: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = AsgiApp(*guest)
    tags = [f"G{i}" for i in range(5)]

    async def scenario() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(asgi_call(app, "/print", f"tag={tag}&n=10".encode()) for tag in tags))

    results = asyncio.run(asyncio.wait_for(scenario(), timeout=TIMEOUT * 4))
    for tag, sent in zip(tags, results, strict=True):
        assert sent[0]["status"] == 200 and b"".join(m.get("body", b"") for m in sent[1:]) == tag.encode()
    wait_for(lambda: sum(r.getMessage().endswith(" tail") for r in guest_records(caplog)) == len(tags))
    records = guest_records(caplog)
    by_request = parse([r.getMessage() for r in records])
    assert sorted(by_request.values()) == sorted(expected_print_lines(tag, 10) for tag in tags)
    for record in records:
        stream = record.getMessage().split(" ", 1)[0]
        assert record.levelno == (logging.INFO if stream == "stdout" else logging.WARNING)
        assert record.wasm_stream == stream  # type: ignore[attr-defined]
        assert record.getMessage().startswith(f"{stream} [{record.wasm_request}] :: ")  # type: ignore[attr-defined]


def test_asgi_trap_after_the_response_started_ends_it_cleanly(guest: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = AsgiApp(*guest)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        trapped = await asgi_call(app, "/trap-after")  # returns normally
        return trapped, await asgi_call(app, "/hello")

    trapped, hello = asyncio.run(asyncio.wait_for(scenario(), timeout=TIMEOUT))
    assert trapped[0]["type"] == "http.response.start" and trapped[0]["status"] == 200
    assert b"".join(m["body"] for m in trapped[1:]) == b"partial body"
    assert trapped[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert hello[0]["status"] == 200 and hello[-1]["more_body"] is False
    errors = [r for r in guest_records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].wasm_request == 0  # type: ignore[attr-defined]
    message = errors[0].getMessage()
    assert message.startswith("error [0] :: the guest failed after the response started: ")
    assert "wasm trap: wasm `unreachable` instruction executed" in message
    assert any(r.getMessage() == "stderr [0] :: RuntimeError: guest failure after set" for r in guest_records(caplog))


def test_asgi_logger_can_be_named(guest: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    app = AsgiApp(*guest, logger="uvicorn.error")
    sent = asyncio.run(asyncio.wait_for(asgi_call(app, "/noset"), timeout=TIMEOUT))
    assert sent[0]["status"] == 500
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "uvicorn.error"] == [
        (logging.ERROR, f"error [0] :: {NEVER_SET}")
    ]
    assert guest_records(caplog) == []  # not also on the default logger


# ------------------------------------------------------------------ line buffering


def test_line_writer_keeps_lines_whole_and_bounded() -> None:
    lines: list[str] = []
    writer = LineWriter(lines.append)
    writer.write(b"a")
    writer.write(b"b\r\nc\n\nd")
    assert lines == ["ab", "c", ""]
    writer.write(b"\xff\n")  # not UTF-8: replaced, not raised
    assert lines[-1] == "d\ufffd"
    writer.write(b"x" * (MAX_LINE_BYTES * 2 + 5))  # an overlong line is logged in bounded pieces
    assert lines[-2:] == ["x" * MAX_LINE_BYTES] * 2
    writer.close()
    assert lines[-1] == "xxxxx"
    writer.close()
    assert len(lines) == 7


def test_guest_log_prefixes_and_levels() -> None:
    entries: list[tuple[int, str, str, int]] = []
    log = GuestLog(lambda *entry: entries.append(entry), 4)
    log.stderr.write(b"oops\npartial")
    log.error("boom")
    log.close()
    log.close()  # once
    assert entries == [
        (logging.WARNING, "stderr [4] :: oops", "stderr", 4),
        (logging.ERROR, "error [4] :: boom", "error", 4),
        (logging.WARNING, "stderr [4] :: partial", "stderr", 4),
    ]
