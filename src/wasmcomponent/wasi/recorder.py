"""Honour a native ``wasmtime.WasiConfig`` passed to ``store.set_wasi(cfg)``.

wasmtime-py's ``WasiConfig`` is write-only: its options go straight into a
native object that Python cannot read back.  So that unchanged wasmtime-py
code (``cfg = wasmtime.WasiConfig(); cfg.argv = [...]; store.set_wasi(cfg)``)
configures wasmcomponent's WASI host too, :func:`install` wraps each option
of ``wasmtime.WasiConfig`` to *record* the call (name and arguments) before
running the original.  It also wraps ``wasmtime.Store.set_wasi``: after
wasmtime-py's own call, the recorded calls are replayed on a
:class:`~.config.WasiConfig`, which has the same options, and that is attached
to the store.

``import wasmcomponent`` installs it (this module imports only ``wasmtime``,
so the WASI host itself still loads on first use).  A native configuration
created *before* that import has no record: attaching it works, but the first
WASI call raises :class:`~.ctx.WasiNotConfiguredError` naming the
problem rather than running with settings silently dropped.

    >>> import wasmtime
    >>> install()  # done by ``import wasmcomponent``
    >>> cfg = wasmtime.WasiConfig()
    >>> cfg.argv = ["app", "x"]
    >>> cfg.inherit_env()
    >>> recorded(cfg)
    [('argv', (['app', 'x'],)), ('inherit_env', ())]
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import wasmtime

_NATIVE: Any = wasmtime.WasiConfig
_RECORD = "_wasmcomponent_recorded"
# Options of wasmtime-py 50's WasiConfig: write-only properties, then methods.
SETTERS = ("argv", "env", "stdin_file", "stdout_file", "stderr_file", "stdout_custom", "stderr_custom")
METHODS = ("inherit_argv", "inherit_env", "inherit_stdin", "inherit_stdout", "inherit_stderr", "preopen_dir")
_installed = False


def recorded(config: Any) -> Optional[list[tuple[str, tuple[Any, ...]]]]:
    """The options set on a native ``wasmtime.WasiConfig``, in order; None if never recorded."""
    calls = config.__dict__.get(_RECORD)
    return list(calls) if calls is not None else None


def _record(config: Any, name: str, args: tuple[Any, ...]) -> None:
    calls = config.__dict__.get(_RECORD)
    if calls is not None:
        calls.append((name, args))


def _recording_setter(name: str, original: Any) -> property:
    fset = original.fset

    def setter(self: Any, value: Any) -> None:
        fset(self, value)  # first: a value wasmtime refuses is not recorded
        _record(self, name, (value,))

    return property(original.fget, setter, original.fdel, original.__doc__)


def _recording_method(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        _record(self, name, (*args, *kwargs.values()))
        return result

    return method


def install() -> None:
    """Wrap ``wasmtime.WasiConfig``'s options to record them (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_init = _NATIVE.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.__dict__[_RECORD] = []

    _NATIVE.__init__ = init
    for name in SETTERS:
        setattr(_NATIVE, name, _recording_setter(name, _NATIVE.__dict__[name]))
    for name in METHODS:
        setattr(_NATIVE, name, _recording_method(name, _NATIVE.__dict__[name]))
    original_set_wasi = wasmtime.Store.set_wasi

    @functools.wraps(original_set_wasi)
    def set_wasi(self: Any, wasi: Any) -> None:
        # wasmtime-py's own call first (it consumes the native object; a value it refuses is
        # never attached), then the same configuration for wasmcomponent's WASI host.
        original_set_wasi(self, wasi)
        from .ctx import set_wasi as attach

        attach(self, wasi)

    wasmtime.Store.set_wasi = set_wasi  # type: ignore[method-assign]


def replay(calls: list[tuple[str, tuple[Any, ...]]]) -> Any:
    """A :class:`~.config.WasiConfig` with the recorded options applied, in order."""
    from .config import WasiConfig

    config = WasiConfig()
    for name, args in calls:
        if name in SETTERS:
            setattr(config, name, args[0])
        else:
            getattr(config, name)(*args)
    return config
