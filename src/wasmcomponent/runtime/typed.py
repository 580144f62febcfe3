"""Typed calls: ``Func.typed(store, params=..., result=...)``.

A ``TypedFunc`` is a ``Func`` whose Python parameter and result types were
declared once and checked against the component function's type when it
was made.  It calls through the very same generated call path as the
``Func`` (no extra frame, no type reflection or dispatch per call); values
are still checked per call (range checks, resources), since Python cannot
enforce annotations.  A mismatch raises ``TypeError`` worded as wasmtime's
typed functions: "type mismatch with parameters: ..." or "type mismatch
with results: ...".

Declared types (what a component type accepts):

====================  =====================================================
component type        declared Python type
====================  =====================================================
``bool``              ``bool``
integers              ``int``
``f32``/``f64``       ``float``
``char``/``string``   ``str``
``enum``              ``str``
``list<u8>``          ``bytes`` (parameters: also ``bytearray``/``memoryview``)
``list<T>``           ``list`` or ``list[T']`` (parameters: also ``tuple``)
``tuple<...>``        ``tuple`` or ``tuple[A, B, ...]``
``record``            ``Record`` (parameters: also ``dict`` or any class
                      whose instances carry the fields)
``flags``             ``set`` / ``set[str]`` (parameters: also ``frozenset``)
``map<K, V>``         ``dict`` or ``dict[K', V']``
``option<T>``         ``Optional[T']`` (untagged), else ``Variant``
``variant``/``result``  ``Variant`` when tagged, else a ``Union`` whose
                      members each match one case (``None`` for a case
                      without payload)
``own``/``borrow``    ``ResourceAny`` (parameters: also ``ResourceHost``)
anything              ``typing.Any`` / ``object``
====================  =====================================================

The result is declared as ``None`` when the function has no result.

What it is for, and what not.  ``Func.typed`` checks a signature you rely on
once, when you set up (so a component that changed its types fails there,
with the parameter named, not in the middle of a run), and records it
(``TypedFunc.declared``).  It does not make calls faster: a ``TypedFunc``
calls through the same generated path as its ``Func``, which already does no
type dispatch per call, and it keeps the per-value checks (integer ranges,
element types, record fields, resources) because a declared ``list[int]``
does not stop a caller from passing ``["a"]``, and those checks are what keep
a wrong value from reaching guest memory.  Measured in the same process
(``benchmarks/bench_bindgen.py``), typed against untyped: ``echo-list`` of
10 and 1,000 ``u32`` 0.99x and 1.00x, ``add(u32, u32)`` 1.05x (noise; the
7.4 µs against 6.7 µs a user saw was the same code path).  For calls that
type-check in mypy and complete in an editor, with dataclasses, enums and
``Ok``/``Err`` instead of ``Record`` and strings, generate bindings
(``wasmcomponent bindgen``, :mod:`wasmcomponent.bindgen`).

    >>> from wasmcomponent.types import model
    >>> check_signature(model.FuncType((("a", model.U32),), model.STRING), [int], str)
    >>> check_signature(model.FuncType((("a", model.U32),), None), [str], None)
    Traceback (most recent call last):
    ...
    TypeError: type mismatch with parameters: parameter `a`: expected a Python type for `u32`, found `str`
"""

from __future__ import annotations

import types as pytypes
import typing
from typing import Any, Optional, Sequence

from ..types.model import (
    U8,
    BorrowType,
    EnumType,
    FlagsType,
    FuncType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    PrimType,
    RecordType,
    ResultType,
    TupleType,
    ValType,
    VariantType,
)
from ..types.values import Record, Variant, describe_type, is_tagged

__all__ = ["check_signature", "NO_RESULT"]

_INTEGERS = frozenset({"u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64"})
_BUILTINS = frozenset({bool, int, float, str, bytes, bytearray, memoryview, list, tuple, dict, set, frozenset})
NO_RESULT: Any = type(None)


def check_signature(ft: FuncType, params: Sequence[Any], result: Any) -> None:
    """Raise ``TypeError`` unless ``params``/``result`` match ``ft`` (see the module docstring)."""
    declared = list(params)
    if len(declared) != len(ft.params):
        raise TypeError(
            f"type mismatch with parameters: expected {len(ft.params)} types, found {len(declared)}"
        )
    for (name, t), py in zip(ft.params, declared, strict=True):
        problem = _mismatch(py, t, True)
        if problem is not None:
            raise TypeError(f"type mismatch with parameters: parameter `{name}`: {problem}")
    if ft.result is None:
        if result is not None and result is not NO_RESULT and not _is_any(result):
            raise TypeError(f"type mismatch with results: the function has no result, found `{_name(result)}`")
        return
    if result is None or result is NO_RESULT:
        raise TypeError(f"type mismatch with results: expected a Python type for `{describe_type(ft.result)}`, "
                        "found `None`")
    problem = _mismatch(result, ft.result, False)
    if problem is not None:
        raise TypeError(f"type mismatch with results: {problem}")


def _name(py: Any) -> str:
    return getattr(py, "__name__", None) or repr(py)


def _is_any(py: Any) -> bool:
    return py is Any or py is object


def _expected(t: ValType, py: Any) -> str:
    return f"expected a Python type for `{describe_type(t)}`, found `{_name(py)}`"


def _mismatch(py: Any, t: ValType, is_param: bool) -> Optional[str]:
    """A description of why ``py`` does not fit ``t``, or None when it does."""
    if _is_any(py):
        return None
    origin = typing.get_origin(py)
    args = typing.get_args(py)
    if origin is typing.Union or origin is pytypes.UnionType:
        return _union_mismatch(py, args, t, is_param)
    if origin is not None:
        return _generic_mismatch(py, origin, args, t, is_param)
    if not isinstance(py, type):
        return _expected(t, py)
    return None if _class_fits(py, t, is_param) else _expected(t, py)


def _class_fits(py: type, t: ValType, is_param: bool) -> bool:
    """Whether the plain class ``py`` fits ``t``."""
    match t:
        case PrimType(name="bool"):
            return py is bool
        case PrimType(name=name) if name in _INTEGERS:
            return py is int or (is_param and py is bool)
        case PrimType(name="f32" | "f64"):
            return py is float
        case PrimType(name="char" | "string"):
            return py is str
        case EnumType():
            return py is str
        case ListType(element=elem):
            if elem == U8:
                return py is bytes or (is_param and py in (bytearray, memoryview))
            return py is list or (is_param and py is tuple)
        case TupleType():
            return py is tuple
        case RecordType():
            if py is Record:
                return True
            # Parameters read fields from a dict or any object's attributes.
            return is_param and (py is dict or py not in _BUILTINS)
        case FlagsType():
            return py is set or (is_param and py is frozenset)
        case MapType():
            return py is dict
        case VariantType() | OptionType() | ResultType():
            if py is Variant:
                return is_tagged(t) or is_param
            # A parameter may be declared as the type of one untagged case.
            return (
                is_param
                and not is_tagged(t)
                and any(c is not None and _mismatch(py, c, True) is None for _, c in t.cases())
            )
        case OwnType() | BorrowType():
            from .resources import ResourceAny, ResourceHost

            return py is ResourceAny or (is_param and py is ResourceHost)
    return False


def _generic_mismatch(py: Any, origin: Any, args: tuple[Any, ...], t: ValType, is_param: bool) -> Optional[str]:
    if origin is list and isinstance(t, ListType) and t.element != U8:
        return None if not args else _nested(args[0], t.element, is_param, "list element")
    if origin is tuple and isinstance(t, TupleType):
        if not args:
            return None
        if len(args) != len(t.elements) or Ellipsis in args:
            return f"expected a tuple of {len(t.elements)} elements, found `{py}`"
        for i, (a, e) in enumerate(zip(args, t.elements, strict=True)):
            problem = _nested(a, e, is_param, f"tuple element {i}")
            if problem is not None:
                return problem
        return None
    if origin is dict and isinstance(t, MapType):
        if not args:
            return None
        return _nested(args[0], t.key, is_param, "map key") or _nested(args[1], t.value, is_param, "map value")
    if origin in (set, frozenset) and isinstance(t, FlagsType):
        if origin is frozenset and not is_param:
            return _expected(t, py)
        return None if not args or args[0] is str else _expected(t, py)
    return _expected(t, py)


def _nested(py: Any, t: ValType, is_param: bool, where: str) -> Optional[str]:
    problem = _mismatch(py, t, is_param)
    return None if problem is None else f"{where}: {problem}"


def _union_mismatch(py: Any, members: tuple[Any, ...], t: ValType, is_param: bool) -> Optional[str]:
    """An untagged option/result/variant declared as a ``Union`` of its cases' types."""
    if not isinstance(t, (VariantType, OptionType, ResultType)) or is_tagged(t):
        return _expected(t, py)
    cases = [payload for _, payload in t.cases()]
    for member in members:
        if member is type(None):
            if any(c is None for c in cases):
                continue
            return f"`None` matches no case of `{describe_type(t)}`"
        if not any(c is not None and _mismatch(member, c, is_param) is None for c in cases):
            return f"`{_name(member)}` matches no case of `{describe_type(t)}`"
    if not is_param:
        # Every case must be covered, or some results would not be instances.
        for c in cases:
            if c is None:
                if type(None) not in members:
                    return f"`{describe_type(t)}` can be `None`, not declared in `{py}`"
            elif not any(m is not type(None) and _mismatch(m, c, False) is None for m in members):
                return f"a case of `{describe_type(t)}` is not declared in `{py}`"
    return None
