"""Checking linker definitions against the types a component imports.

Host functions are untyped Python callables, so a function import only needs
*a* function; their values are checked at call time.  Instances are checked
export by export (extra exports are fine), core modules by their exports and
imports, as wasmtime's ``matching.rs`` does, with wasmtime's messages so that
substring checks written against wasmtime keep working.
"""

from __future__ import annotations

from typing import Optional

import wasmtime

from ..errors import LinkError
from ..types import model
from .linker import (
    Definition,
    FuncDefinition,
    InstanceDefinition,
    ModuleDefinition,
    ResourceDefinition,
    TrapDefinition,
    describe,
)


def describe_expected(expected: object) -> str:
    """The kind of an expected import type, in wasmtime's words."""
    if isinstance(expected, model.ComponentType):
        return "component"
    if isinstance(expected, model.InstanceType):
        return "instance"
    if isinstance(expected, model.FuncType):
        return "function"
    if isinstance(expected, model.CoreModuleType):
        return "core module"
    if isinstance(expected, model.TypeBound) and expected.resource is not None:
        return "resource"
    return "type"


def check_definition(
    expected: object,
    actual: Optional[Definition],
    engine: wasmtime.Engine,
    bound: Optional[dict[model.ResourceIdentity, Definition]] = None,
) -> None:
    """Raise ``LinkError`` unless ``actual`` can satisfy an import of type ``expected``.

    ``bound`` maps each resource type already supplied by an earlier import
    (of the same component) to its definition; pass one dict for all imports.
    """
    if bound is None:
        bound = {}
    if isinstance(expected, model.CoreModuleType):
        if isinstance(actual, ModuleDefinition):
            _check_module(expected, actual.module)
            return
        _missing_or_wrong("module", actual)
    elif isinstance(expected, model.InstanceType):
        if actual is not None and not isinstance(actual, InstanceDefinition):
            raise LinkError(f"expected instance found {describe(actual)}")
        for name, export_type in expected.exports.items():
            if isinstance(export_type, model.TypeBound) and export_type.resource is None:
                continue  # named interface types have no definition to look up
            found = actual.items.get(name) if actual is not None else None
            try:
                check_definition(export_type, found, engine, bound)
            except LinkError as err:
                raise err.with_context(f"instance export `{name}` has the wrong type") from None
    elif isinstance(expected, model.FuncType):
        if isinstance(actual, (FuncDefinition, TrapDefinition)):
            return
        _missing_or_wrong("function", actual)
    elif isinstance(expected, model.ComponentType):
        _missing_or_wrong("component", actual, wrong_always=True)
    elif isinstance(expected, model.TypeBound) and expected.resource is not None:
        _check_resource(expected.resource, actual, bound)
    else:
        _missing_or_wrong("type", actual, wrong_always=True)


def _check_resource(
    resource: model.ResourceIdentity,
    actual: Optional[Definition],
    bound: dict[model.ResourceIdentity, Definition],
) -> None:
    """A resource import, as wasmtime's ``TypeChecker`` checks ``TypeDef::Resource``.

    The first import of a resource type must be supplied.  A later one (an
    ``(eq $r)`` bound to it) needs nothing in the linker; if it is supplied
    anyway, it must be the same type.
    """
    earlier = bound.get(resource)
    if actual is None and earlier is not None:
        return
    if not isinstance(actual, ResourceDefinition):
        _missing_or_wrong("resource", actual)
        return
    if earlier is None:
        bound[resource] = actual
    elif isinstance(earlier, ResourceDefinition) and earlier.ty != actual.ty:
        raise LinkError("mismatched resource types")


def _missing_or_wrong(kind: str, actual: Optional[Definition], wrong_always: bool = False) -> None:
    if actual is None:
        raise LinkError(f"{kind} implementation is missing")
    raise LinkError(f"expected {kind} found {describe(actual)}")


def _check_module(expected: model.CoreModuleType, module: wasmtime.Module) -> None:
    """As wasmtime's component ``TypeChecker::module``: the chain ends with the
    innermost cause from ``matching::entity_ty`` ("expected global found func")."""
    from .._engine.core import module_exports, module_imports

    actual_exports = {name: ty for name, ty in module_exports(module)}
    for name, want in expected.exports:
        have = actual_exports.get(name)
        if have is None:
            raise LinkError(f"module export `{name}` not defined")
        cause = core_mismatch(want, have)
        if cause is not None:
            raise LinkError(cause).with_context(f"module export `{name}` has the wrong type")
    expected_imports = {(m, n): ty for m, n, ty in expected.imports}
    for module_name, name, have in module_imports(module):
        wanted = expected_imports.get((module_name, name))
        if wanted is None:
            raise LinkError(f"module import `{module_name}::{name}` not defined")
        # wasmtime checks the module's own import as the expected side.
        cause = core_mismatch(have, wanted)
        if cause is not None:
            raise LinkError(cause).with_context(
                f"module import `{module_name}::{name}` has the wrong type"
            )


def _func_text(func: Optional[model.CoreFuncType]) -> str:
    """A core function type as wasmtime prints it: ``(func (param i32) (result i64))``."""
    if func is None:
        return "(func)"
    text = "(func"
    if func.params:
        text += " (param " + " ".join(func.params) + ")"
    if func.results:
        text += " (result " + " ".join(func.results) + ")"
    return text + ")"


def _limits_text(min_: int, max_: Optional[int]) -> str:
    return f"min: {min_}, max: {'none' if max_ is None else max_}"


def core_mismatch(expected: model.CoreExternType, actual: model.CoreExternType) -> Optional[str]:
    """wasmtime's ``matching::entity_ty`` message if ``actual`` cannot stand for ``expected``."""
    if actual.kind != expected.kind:
        return f"expected {expected.kind} found {actual.kind}"
    if actual.kind == "func":
        if actual.func == expected.func:
            return None
        return (
            f"types incompatible: expected type `{_func_text(expected.func)}`, "
            f"found type `{_func_text(actual.func)}`"
        )
    have, want = actual.detail, expected.detail
    if not isinstance(have, tuple) or not isinstance(want, tuple):
        return None if have == want else "incompatible tag types"
    if actual.kind == "global":
        if have[0] != want[0]:
            return (
                f"global types incompatible: expected global of type `{want[0]}`, "
                f"found global of type `{have[0]}`"
            )
        if have[1] != want[1]:
            word = {True: "mutable", False: "immutable"}
            return f"global types incompatible: expected {word[want[1]]} global, found {word[have[1]]} global"
        return None
    if actual.kind == "table":
        if have[0] != want[0]:
            return (
                f"table types incompatible: expected table of type `{want[0]}`, "
                f"found table of type `{have[0]}`"
            )
        if not _limits_match(have[1], have[2], want[1], want[2]):
            return (
                "table types incompatible: expected table limits "
                f"({_limits_text(want[1], want[2])}) doesn't match provided table limits "
                f"({_limits_text(have[1], have[2])})"
            )
        return None
    if actual.kind == "memory":
        if have[3:] != want[3:]:
            word = {True: "shared", False: "non-shared"}
            return f"memory types incompatible: expected {word[want[3]]} memory, found {word[have[3]]} memory"
        if have[2] != want[2]:
            bits = {True: "64-bit", False: "32-bit"}
            return f"memory types incompatible: expected {bits[want[2]]} memory, found {bits[have[2]]} memory"
        if not _limits_match(have[0], have[1], want[0], want[1]):
            return (
                "memory types incompatible: expected memory limits "
                f"({_limits_text(want[0], want[1])}) doesn't match provided memory limits "
                f"({_limits_text(have[0], have[1])})"
            )
        return None
    return None if have == want else "incompatible tag types"


def _limits_match(min_have: int, max_have: Optional[int], min_want: int, max_want: Optional[int]) -> bool:
    if min_have < min_want:
        return False
    if max_want is None:
        return True
    return max_have is not None and max_have <= max_want
