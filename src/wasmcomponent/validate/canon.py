"""Canonical definitions: option rules, lift/lower signatures, resource built-ins.

``check_canon(state, canon)`` validates one ``canon`` definition against the
current ``validate.component.State`` and appends what it defines to the
``funcs`` or ``core_funcs`` index space.  The flattening rules are those of
``CanonicalABI.md`` (``flatten_functype``): more than 16 flat parameters go
through memory, more than 1 flat result through a return pointer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..binary import ast
from ..errors import UnsupportedError, ValidationError
from ..types.abi import ptr_type
from .core_module import CoreSig
from .types import Func, ResourceEntry, flatten, info_of

if TYPE_CHECKING:
    from .component import State

MAX_FLAT_PARAMS = 16
MAX_FLAT_ASYNC_PARAMS = 4
MAX_FLAT_RESULTS = 1
MAX_CALL_TYPE_SIZE = 10_000
"""This runtime's cap on the effective type size of a lifted or lowered function.

wasmparser allows types up to 1,000,000; the Python Canonical ABI walks a
function's types when it compiles the function, so far smaller types keep
that work bounded (WASI's largest function types are below 100)."""
ENCODING_NAMES = {"utf8": "utf8", "utf16": "utf16", "latin1+utf16": "latin1-utf16"}


class Options:
    """The checked options of one lift/lower."""

    def __init__(self) -> None:
        self.encoding: Optional[str] = None
        self.memory: Optional[int] = None
        self.memory64: Optional[bool] = False  # None: the memory's type is not known
        self.realloc: Optional[int] = None
        self.post_return: Optional[int] = None
        self.is_async = False
        self.callback: Optional[int] = None
        self.gc = False
        self.core_type: Optional[int] = None

    def require_memory(self, offset: int) -> None:
        if self.memory is None:
            raise ValidationError("canonical option `memory` is required", offset)

    def require_realloc(self, offset: int) -> None:
        self.require_memory(offset)
        if self.realloc is None:
            raise ValidationError("canonical option `realloc` is required", offset)


# Options that may appear once: option -> (attribute of ``Options``, name in messages).
_ONCE: dict[str, tuple[str, str]] = {
    "memory": ("memory", "memory"),
    "realloc": ("realloc", "realloc"),
    "post-return": ("post_return", "post-return"),
    "async": ("is_async", "async"),
    "callback": ("callback", "callback"),
    "core-type": ("core_type", "core type"),
    "gc": ("gc", "gc"),
}


def check_options(s: State, opts: ast.CanonOptions, offset: int) -> Options:
    """The per-option rules shared by every definition taking ``canonopt*``."""
    o = Options()
    for opt in opts.items:
        kind = opt.kind
        if kind in ENCODING_NAMES:
            if o.encoding is not None:
                raise ValidationError(
                    f"canonical encoding option `{ENCODING_NAMES[o.encoding]}` conflicts with option "
                    f"`{ENCODING_NAMES[kind]}`", offset,
                )
            o.encoding = kind
        elif kind in _ONCE:
            attribute, label = _ONCE[kind]
            current = getattr(o, attribute)
            is_flag = isinstance(current, bool)  # `async` and `gc` carry no index
            if (current if is_flag else current is not None):
                raise ValidationError(f"canonical option `{label}` is specified more than once", offset)
            setattr(o, attribute, True if is_flag else opt.index or 0)
            if kind == "memory":
                mem = s.get("core_memories", opt.index or 0, offset)
                o.memory64 = bool(getattr(mem, "wide", False)) if getattr(mem, "known", False) else None
    if o.callback is not None and not o.is_async:
        raise ValidationError("cannot specify callback without async", offset)
    if o.is_async and o.post_return is not None:
        raise ValidationError("cannot specify post-return function in async", offset)
    if o.core_type is not None and not o.gc:
        raise ValidationError("cannot specify `core-type` without `gc`", offset)
    if o.realloc is not None:
        if o.memory is None:
            raise ValidationError("canonical option `realloc` requires `memory` to also be specified", offset)
        ptr = ptr_type(bool(o.memory64))
        sig = s.core_sig_at(o.realloc, offset)
        if sig is not None and o.memory64 is not None and sig != CoreSig((ptr,) * 4, (ptr,)):
            raise ValidationError("canonical option `realloc` uses a core function with an incorrect signature",
                                  offset)
    for index in (o.post_return, o.callback):
        if index is not None:
            s.core_sig_at(index, offset)
    if o.callback is not None:
        sig = s.core_sig_at(o.callback, offset)
        if sig is not None and sig != CoreSig(("i32", "i32", "i32"), ("i32",)):
            raise ValidationError("canonical option `callback` uses a core function with an incorrect signature",
                                  offset)
    return o


def lowered_sig(func: Func, o: Options, lift: bool, offset: int) -> Optional[CoreSig]:
    """The core signature of lifting/lowering ``func`` with ``o``, enforcing memory/realloc needs."""
    if o.gc:
        return None
    ptr = ptr_type(bool(o.memory64))
    params: list[str] = []
    limit = MAX_FLAT_ASYNC_PARAMS if (not lift and o.is_async) else MAX_FLAT_PARAMS
    overflow = False
    for _, t in func.params:
        if info_of(t).has_ptr:
            if lift:
                o.require_realloc(offset)
            else:
                o.require_memory(offset)
    flat: Optional[list[str]] = []
    for _, t in func.params:
        part = flatten(t, limit, ptr)
        if part is None or flat is None or len(flat) + len(part) > limit:
            flat = None
            break
        flat.extend(part)
    if flat is None:
        overflow = True
        params = [ptr]
        o.require_memory(offset)
        if lift:
            o.require_realloc(offset)
    else:
        params = flat
    del overflow
    results: list[str] = []
    if func.result is not None and not lift and info_of(func.result).has_ptr:
        o.require_realloc(offset)
    if not o.is_async:
        if func.result is not None:
            flat_r = flatten(func.result, MAX_FLAT_RESULTS, ptr)
            if flat_r is None:
                o.require_memory(offset)
                if lift:
                    results = [ptr]
                else:
                    params.append(ptr)
            else:
                results = flat_r
    elif not lift:
        if func.result is not None:
            params.append("i32")
            o.require_memory(offset)
        results = ["i32"]
    else:
        if func.result is not None:
            too_big = flatten(func.result, MAX_FLAT_PARAMS, ptr) is None
            if too_big or info_of(func.result).has_ptr:
                o.require_memory(offset)
        if o.callback is not None:
            results = ["i32"]
    if o.memory64 is None and o.memory is not None:
        return None  # pointer width unknown
    return CoreSig(tuple(params), tuple(results))


def _fmt(types: tuple[str, ...]) -> str:
    return "[" + ", ".join(t.capitalize() if t != "v128" else "V128" for t in types) + "]"


def check_canon(s: State, canon: object) -> None:
    """Validate one canonical definition and extend the index spaces."""
    if isinstance(canon, ast.CanonLift):
        off = canon.offset
        func = s.func_type_at(canon.type_index, off)
        core = s.core_sig_at(canon.core_func, off)
        o = check_options(s, canon.options, off)
        if o.post_return is not None and core is not None:
            post = s.core_sig_at(o.post_return, off)
            if post is not None and (post.params != core.results or post.results):
                raise ValidationError(
                    "canonical option `post-return` uses a core function with an incorrect signature", off
                )
        if o.core_type is not None:
            raise ValidationError("canonical option `core-type` is not allowed in `canon lift`", off)
        if o.is_async and not func.is_async:
            raise ValidationError("the `async` canonical option requires an async function type", off)
        expected = lowered_sig(func, o, True, off)
        if expected is not None and core is not None and expected != core:
            if expected.params != core.params:
                raise ValidationError(
                    f"lowered parameter types `{_fmt(expected.params)}` do not match parameter types "
                    f"`{_fmt(core.params)}` of core function {canon.core_func}", off,
                )
            raise ValidationError(
                f"lowered result types `{_fmt(expected.results)}` do not match result types "
                f"`{_fmt(core.results)}` of core function {canon.core_func}", off,
            )
        _check_call_size(s, func, "lifted", off)
        s.funcs.append(func)
    elif isinstance(canon, ast.CanonLower):
        off = canon.offset
        lowered = s.get("funcs", canon.func, off)
        assert isinstance(lowered, Func)
        o = check_options(s, canon.options, off)
        if o.post_return is not None:
            raise ValidationError("canonical option `post-return` cannot be specified for lowerings", off)
        if o.callback is not None:
            raise ValidationError("canonical option `callback` cannot be specified for lowerings", off)
        if o.gc and o.core_type is None:
            raise ValidationError("cannot specify `gc` without also specifying a `core-type` for lowerings", off)
        if o.is_async and not lowered.is_async:
            raise ValidationError("the `async` canonical option requires an async function type", off)
        sig = lowered_sig(lowered, o, False, off)
        _check_call_size(s, lowered, "lowered", off)
        s.core_funcs.append(sig)
    elif isinstance(canon, (ast.CanonResourceNew, ast.CanonResourceRep)):
        off = canon.offset
        entry = s.resource_at(canon.type_index, off)
        rep = _local_rep(s, entry, canon.type_index, off)
        if isinstance(canon, ast.CanonResourceNew):
            s.core_funcs.append(CoreSig((rep,), ("i32",)))
        else:
            s.core_funcs.append(CoreSig(("i32",), (rep,)))
    elif isinstance(canon, ast.CanonResourceDrop):
        s.resource_at(canon.type_index, canon.offset)
        s.core_funcs.append(CoreSig(("i32",), ()))
    elif isinstance(canon, ast.CanonBuiltin):
        bopts = None if canon.options is None else check_options(s, canon.options, canon.offset)
        _check_builtin(canon)
        s.core_funcs.append(_builtin_sig(s, canon, bopts))


# The core signatures of the built-ins whose signature does not depend on a type.
BUILTIN_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "backpressure.inc": ((), ()),
    "backpressure.dec": ((), ()),
    "backpressure.set": (("i32",), ()),
    "task.cancel": ((), ()),
    "waitable-set.new": ((), ("i32",)),
    "waitable-set.wait": (("i32", "i32"), ("i32",)),
    "waitable-set.poll": (("i32", "i32"), ("i32",)),
    "waitable-set.drop": (("i32",), ()),
    "waitable.join": (("i32", "i32"), ()),
    "subtask.cancel": (("i32",), ("i32",)),
    "subtask.drop": (("i32",), ()),
    "stream.new": ((), ("i64",)),
    "stream.read": (("i32", "i32", "i32"), ("i32",)),
    "stream.write": (("i32", "i32", "i32"), ("i32",)),
    "stream.cancel-read": (("i32",), ("i32",)),
    "stream.cancel-write": (("i32",), ("i32",)),
    "stream.drop-readable": (("i32",), ()),
    "stream.drop-writable": (("i32",), ()),
    "future.new": ((), ("i64",)),
    "future.read": (("i32", "i32"), ("i32",)),
    "future.write": (("i32", "i32"), ("i32",)),
    "future.cancel-read": (("i32",), ("i32",)),
    "future.cancel-write": (("i32",), ("i32",)),
    "future.drop-readable": (("i32",), ()),
    "future.drop-writable": (("i32",), ()),
    "error-context.new": (("i32", "i32"), ("i32",)),
    "error-context.debug-message": (("i32", "i32"), ()),
    "error-context.drop": (("i32",), ()),
    "thread.index": ((), ("i32",)),
    "thread.new-indirect": (("i32", "i32"), ("i32",)),
    "thread.resume-later": (("i32",), ()),
    "thread.suspend": ((), ("i32",)),
    "thread.yield": ((), ("i32",)),
    "thread.suspend-then-resume": (("i32",), ("i32",)),
    "thread.yield-then-resume": (("i32",), ("i32",)),
    "thread.suspend-then-promote": (("i32",), ("i32",)),
    "thread.yield-then-promote": (("i32",), ("i32",)),
}


def _builtin_sig(s: State, canon: ast.CanonBuiltin, o: Optional[Options]) -> Optional[CoreSig]:
    """The core signature of a built-in, so that lifting it or using it as an import is type-checked.

    None where it depends on something not worked out here (a 64-bit memory's
    pointers, or ``task.return`` of a type too large to flatten).
    """
    if o is not None and o.memory64:
        return None
    name = canon.name
    if name in ("context.get", "context.set"):
        valtype = str(canon.get("valtype"))
        return CoreSig((), (valtype,)) if name == "context.get" else CoreSig((valtype,), ())
    if name == "task.return":
        ref = canon.get("result")
        if ref is None:
            return CoreSig((), ())
        flat = flatten(s.valtype(ref, canon.offset), MAX_FLAT_PARAMS, "i32")  # type: ignore[arg-type]
        return CoreSig(tuple(flat) if flat is not None else ("i32",), ())
    found = BUILTIN_SIGNATURES.get(name)
    return None if found is None else CoreSig(*found)


def _check_builtin(canon: ast.CanonBuiltin) -> None:
    """wasmparser's rules on the immediates of ``context.get``/``context.set``."""
    if canon.name in ("context.get", "context.set"):
        if canon.get("valtype") not in ("i32", "i64"):
            raise ValidationError(f"`{canon.name}` only supports `i32` or `i64`", canon.offset)
        slot = canon.get("slot")
        if isinstance(slot, int) and slot > 1:
            raise ValidationError(f"`{canon.name}` immediate must be zero or one: {slot}", canon.offset)


def _check_call_size(s: State, func: Func, how: str, offset: int) -> None:
    """Note the first function beyond :data:`MAX_CALL_TYPE_SIZE` on the outermost state;
    ``validate_component`` raises it once the whole component has validated, so an
    invalid component still gets its validation error."""
    if func.tsize <= MAX_CALL_TYPE_SIZE:
        return
    root = s
    while root.parent is not None:
        root = root.parent
    if root.unsupported is None:
        root.unsupported = UnsupportedError(
            f"the type of a {how} function is too large: effective type size {func.tsize} "
            f"exceeds this runtime's limit of {MAX_CALL_TYPE_SIZE} (at offset {offset:#x})"
        )


def _local_rep(s: State, entry: ResourceEntry, index: int, offset: int) -> str:
    if entry.resource not in s.defined_resources or entry.resource.rep is None:
        raise ValidationError(f"type {index} is not a local resource", offset)
    return entry.resource.rep
