"""The exceptions wasmcomponent raises.

Everything derives from :class:`wasmtime.WasmtimeError`, so code written for
``wasmtime.component`` that catches ``WasmtimeError`` keeps working::

    wasmtime.WasmtimeError
     └ ComponentError        base for everything wasmcomponent raises itself
        ├ DecodeError        malformed binary ("... (at offset 0x1f)")
        ├ ValidationError    invalid component
        ├ UnsupportedError   valid, but not implemented yet
        ├ LinkError          missing or mismatched imports, duplicate definitions
        ├ ValueConversionError  (also a ValueError) unknown enum case or flag name
        └ ComponentTrap      a runtime trap; ``str()`` starts with "wasm trap: "

Wrong Python values raise ``TypeError``/``ValueError``; an exception raised by a
host function reaches the caller unchanged.

``WasmtimeError.__init__`` allocates a native error object; ours are plain
Python exceptions that only borrow its type, so ``__init__`` is overridden and
no native object is created.
"""

from __future__ import annotations

from typing import Optional

from wasmtime import TrapCode, WasmtimeError

__all__ = [
    "ComponentError",
    "DecodeError",
    "ValidationError",
    "UnsupportedError",
    "LinkError",
    "ValueConversionError",
    "MissingFieldError",
    "ComponentTrap",
    "TrapCode",
]


class ComponentError(WasmtimeError):
    """Base class of every error wasmcomponent raises itself."""

    def __init__(self, message: str, context: tuple[str, ...] = ()) -> None:
        Exception.__init__(self, message)
        self.message = message
        # Outer context first, rendered as wasmtime's "Caused by" chain.
        self.context = context

    def with_context(self, outer: str) -> ComponentError:
        """Return a copy of this error with ``outer`` as its new outermost message."""
        clone = type(self).__new__(type(self))
        ComponentError.__init__(clone, outer, (self.message,) + self.context)
        for key, value in self.__dict__.items():
            if key not in ("message", "context"):
                setattr(clone, key, value)
        return clone

    def __str__(self) -> str:
        if not self.context:
            return self.message
        lines = [self.message, "", "Caused by:"]
        if len(self.context) == 1:
            lines.append("    " + self.context[0])
        else:
            lines.extend(f"    {i}: {text}" for i, text in enumerate(self.context))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class DecodeError(ComponentError):
    """The bytes are not a well-formed component binary.

    ``offset`` is the byte offset where decoding failed; the message ends with
    ``(at offset 0x..)`` as wasmparser's do.  It is None for component text,
    whose messages give a line and column instead.
    """

    def __init__(self, message: str, offset: Optional[int] = 0) -> None:
        super().__init__(message if offset is None else f"{message} (at offset {offset:#x})")
        self.offset = offset


class ValidationError(ComponentError):
    """The component is well-formed but invalid."""

    def __init__(self, message: str, offset: Optional[int] = None) -> None:
        text = message if offset is None else f"{message} (at offset {offset:#x})"
        super().__init__(text)
        self.offset = offset


class UnsupportedError(ComponentError):
    """The component is valid, but uses something wasmcomponent does not support yet."""


class LinkError(ComponentError):
    """An import could not be satisfied, or a definition clashes with another."""


class ValueConversionError(ComponentError, ValueError):
    """A Python value names something the component type does not have.

    An unknown enum case or flag name.  It is a ``ValueError`` and, as
    wasmtime-py reports these through the native library, a ``WasmtimeError``.
    """


class MissingFieldError(ComponentError, TypeError, AttributeError):
    """A record value lacks one of the record's fields.

    A ``WasmtimeError`` like every error of wasmcomponent, a ``TypeError`` and,
    as wasmtime-py reads fields with ``getattr``, an ``AttributeError``.
    """


class ComponentTrap(ComponentError):
    """A trap raised while running a component.

    ``trap_code`` is a :class:`wasmtime.TrapCode` when the trap has one, and
    ``str(trap)`` contains ``"wasm trap: <reason>"`` as wasmtime's traps do.
    """

    def __init__(
        self,
        reason: str,
        trap_code: Optional[TrapCode] = None,
        context: tuple[str, ...] = (),
    ) -> None:
        super().__init__(reason if reason.startswith(("wasm trap:", "error while")) else f"wasm trap: {reason}", context)
        self.trap_code = trap_code
