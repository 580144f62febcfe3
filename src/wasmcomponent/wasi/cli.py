"""``wasi:cli`` 0.2: environment, exit, stdin/stdout/stderr and the terminal interfaces.

Each ``get-std*`` call returns a new stream handle over one shared source or
sink per context, so several handles see one stdin and interleave on one
stdout.  ``exit`` raises ``wasmtime.ExitTrap`` with ``.code`` (0 for ``ok``,
1 for ``err``, the byte for ``exit-with-code``); it unwinds the guest like a
trap and never ends the Python process.

A ``stdout_buffer()``/``stderr_buffer()`` holds at most
``WasiConfig.max_buffer_bytes`` (see :class:`~.io.SinkOutput`: ``check-write``
grants the room left, then reports ``closed``; a write past it traps).  The
other sinks pass bytes on and keep none.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

import wasmtime

from ..runtime.resources import ResourceHost
from .ctx import HostObject, Interface, Res
from .io import (
    BufferSink,
    BytesSource,
    CallbackSink,
    DiscardSink,
    FdSource,
    InheritSink,
    InputSource,
    ReaderSource,
    SharedInput,
    Sink,
    SinkOutput,
    WriterSink,
)

if TYPE_CHECKING:
    from .config import StdioSpec, WasiConfig
    from .ctx import WasiCtx


def exit_trap(code: int) -> wasmtime.ExitTrap:
    """The exception ``wasi:cli/exit`` raises, as wasmtime reports a guest's exit."""
    error = wasmtime.ExitTrap(f"Exited with i32 exit status {code}")
    error.code = code
    return error


class Terminal(HostObject):
    """A ``terminal-input``/``terminal-output`` resource (no methods in 0.2)."""

    __slots__ = ()


def _input_source(spec: StdioSpec) -> InputSource:
    kind = spec[0]
    if kind == "bytes":
        return BytesSource(spec[1])
    if kind == "reader":
        return ReaderSource(spec[1])
    if kind == "file":
        with open(spec[1], "rb") as f:
            return BytesSource(f.read())
    if kind == "inherit":
        try:
            return FdSource(sys.stdin.fileno())
        except (AttributeError, OSError, ValueError):
            return ReaderSource(getattr(sys.stdin, "buffer", sys.stdin))
    return InputSource()


def _sink(spec: StdioSpec, name: str, limit: int) -> Sink:
    kind = spec[0]
    if kind == "inherit":
        return InheritSink(name)
    if kind == "buffer":
        return BufferSink(spec[1], limit, name)
    if kind == "custom":
        return CallbackSink(spec[1])
    if kind == "writer":
        return WriterSink(spec[1])
    if kind == "file":
        return WriterSink(open(spec[1], "wb", buffering=0))  # noqa: SIM115 (lives with the context)
    return DiscardSink()


class CliState:
    """Arguments, environment and the shared stdio endpoints of one context."""

    def __init__(self, config: WasiConfig) -> None:
        self.args = config.argv
        self.env = config.env
        self.cwd = config.initial_cwd
        self.stdin = _input_source(config.stdin)
        self.stdout = _sink(config.stdout, "stdout", config.max_buffer_bytes)
        self.stderr = _sink(config.stderr, "stderr", config.max_buffer_bytes)
        self.strict = config.strict_permits
        forced = config.terminals
        self.terminal = {
            "stdin": forced["stdin"] if forced["stdin"] is not None else _stdin_isatty(config.stdin),
            "stdout": forced["stdout"] if forced["stdout"] is not None else self.stdout.isatty(),
            "stderr": forced["stderr"] if forced["stderr"] is not None else self.stderr.isatty(),
        }


def _stdin_isatty(spec: StdioSpec) -> bool:
    if spec[0] != "inherit":
        return False
    try:
        return bool(sys.stdin.isatty())
    except (AttributeError, OSError, ValueError):
        return False


ENVIRONMENT = Interface("wasi:cli/environment")
EXIT = Interface("wasi:cli/exit")
STDIN = Interface("wasi:cli/stdin", resources={"input-stream": Res.INPUT_STREAM})
STDOUT = Interface("wasi:cli/stdout", resources={"output-stream": Res.OUTPUT_STREAM})
STDERR = Interface("wasi:cli/stderr", resources={"output-stream": Res.OUTPUT_STREAM})
TERMINAL_INPUT = Interface("wasi:cli/terminal-input", resources={"terminal-input": Res.TERMINAL_INPUT})
TERMINAL_OUTPUT = Interface("wasi:cli/terminal-output", resources={"terminal-output": Res.TERMINAL_OUTPUT})
TERMINAL_STDIN = Interface("wasi:cli/terminal-stdin", resources={"terminal-input": Res.TERMINAL_INPUT})
TERMINAL_STDOUT = Interface("wasi:cli/terminal-stdout", resources={"terminal-output": Res.TERMINAL_OUTPUT})
TERMINAL_STDERR = Interface("wasi:cli/terminal-stderr", resources={"terminal-output": Res.TERMINAL_OUTPUT})
INTERFACES = [
    ENVIRONMENT,
    EXIT,
    STDIN,
    STDOUT,
    STDERR,
    TERMINAL_INPUT,
    TERMINAL_OUTPUT,
    TERMINAL_STDIN,
    TERMINAL_STDOUT,
    TERMINAL_STDERR,
]


@ENVIRONMENT.func("get-environment")
def get_environment(ctx: WasiCtx) -> list[tuple[str, str]]:
    return ctx.cli.env


@ENVIRONMENT.func("get-arguments")
def get_arguments(ctx: WasiCtx) -> list[str]:
    return ctx.cli.args


@ENVIRONMENT.func("initial-cwd")
def initial_cwd(ctx: WasiCtx) -> Optional[str]:
    return ctx.cli.cwd


@EXIT.func("exit")
def exit_(ctx: WasiCtx, status: Any) -> None:
    raise exit_trap(0 if getattr(status, "tag", None) == "ok" else 1)


@EXIT.func("exit-with-code")
def exit_with_code(ctx: WasiCtx, code: int) -> None:
    raise exit_trap(code)


@STDIN.func("get-stdin")
def get_stdin(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(SharedInput(ctx.cli.stdin), Res.INPUT_STREAM)


@STDOUT.func("get-stdout")
def get_stdout(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(SinkOutput(ctx.cli.stdout, ctx.cli.strict), Res.OUTPUT_STREAM)


@STDERR.func("get-stderr")
def get_stderr(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(SinkOutput(ctx.cli.stderr, ctx.cli.strict), Res.OUTPUT_STREAM)


def _terminal(ctx: WasiCtx, name: str, ty: Res) -> Optional[ResourceHost]:
    return ctx.own(Terminal(), ty) if ctx.cli.terminal[name] else None


@TERMINAL_STDIN.func("get-terminal-stdin")
def get_terminal_stdin(ctx: WasiCtx) -> Optional[ResourceHost]:
    return _terminal(ctx, "stdin", Res.TERMINAL_INPUT)


@TERMINAL_STDOUT.func("get-terminal-stdout")
def get_terminal_stdout(ctx: WasiCtx) -> Optional[ResourceHost]:
    return _terminal(ctx, "stdout", Res.TERMINAL_OUTPUT)


@TERMINAL_STDERR.func("get-terminal-stderr")
def get_terminal_stderr(ctx: WasiCtx) -> Optional[ResourceHost]:
    return _terminal(ctx, "stderr", Res.TERMINAL_OUTPUT)
