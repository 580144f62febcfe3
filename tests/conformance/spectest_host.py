"""Host items Wasmtime's test harness provides to component scripts.

Re-created in Python for the API under test (behaviour from Wasmtime's
`crates/wast/src/spectest.rs`, `link_component_spectest`, and
`register_wasmtime`):

* root `host-return-two: func() -> u32` returning 2;
* instance `host`: `return-three` (3), nested instance `nested` with
  `return-four` (4), `return-hi` ("hi"), and the core module
  `simple-module` (exports global `g` = 100 and func `f` returning 101);
* resources in `host`: `resource1` (host type 1, whose destructor counts
  drops and remembers the last rep), `resource2` (host type 2),
  `resource1-again` (the same type as `resource1`; its destructor must never
  run), plus `[constructor]resource1(rep) -> own`, `[static]resource1.assert`
  (handle's rep equals the argument), `[static]resource1.last-drop`,
  `[static]resource1.drops`, `[method]resource1.simple` (borrow with the
  given rep), `[method]resource1.take-borrow` (two borrows) and
  `[method]resource1.take-own` (a borrow then an own);
* instance `wasmtime` with `gc` (misc suite only).

Items that need the async ABI (`host-echo-u32`, `never-return`,
`return-two-slowly`, `echo-slowly`, `[method]resource1.never-return`,
`wasmtime`'s `set-max-table-capacity`) are not defined; neither are the
resource items when the API cannot define host resources.  `HostItems.
unsupported` maps each missing name to the reason, so the driver can report
a component that fails to link because it imports one of them as skipped.

All mutable state (the drop counters) lives in a `HostState` per script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .api import ComponentApi

RESOURCE1_ID = 1
RESOURCE2_ID = 2
ASYNC_REASON = "async host function (Wasmtime defines it with func_wrap_concurrent)"
RESOURCE_REASON = "resources not supported by this API"

ASYNC_ITEMS = (
    "host-echo-u32",
    "never-return",
    "return-two-slowly",
    "echo-slowly",
    "[method]resource1.never-return",
    "set-max-table-capacity",
)
RESOURCE_ITEMS = (
    "resource1",
    "resource2",
    "resource1-again",
    "[constructor]resource1",
    "[static]resource1.assert",
    "[static]resource1.last-drop",
    "[static]resource1.drops",
    "[method]resource1.simple",
    "[method]resource1.take-borrow",
    "[method]resource1.take-own",
)

SIMPLE_MODULE_WAT = """
(module
  (global (export "g") i32 i32.const 100)
  (func (export "f") (result i32) i32.const 101))
"""


class HostAssertion(Exception):
    """A host function's check on its arguments failed (surfaces as a trap)."""


@dataclass
class HostState:
    """Per-script state shared by the host resource functions."""

    drops: int = 0
    last_drop: int = 0


@dataclass
class HostItems:
    """What was defined, and why the rest was not."""

    state: HostState
    unsupported: dict[str, str] = field(default_factory=dict)


def _rep_of(api: ComponentApi, store: Any, handle: Any) -> int:
    """The rep of a host resource handle passed to a host function."""
    if hasattr(handle, "to_host"):
        handle = handle.to_host(store)
    return int(handle.rep)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise HostAssertion(message)


def _define_resources(api: ComponentApi, host: Any, state: HostState) -> None:
    resource_type = api.attr("ResourceType")
    resource_host = api.attr("ResourceHost")

    def drop_resource1(_store: Any, rep: int) -> None:
        state.drops += 1
        state.last_drop = rep

    def drop_again(_store: Any, _rep: int) -> None:
        raise HostAssertion("`resource1-again` destructor must not run")

    host.add_resource("resource1", resource_type.host(RESOURCE1_ID), drop_resource1)
    host.add_resource("resource2", resource_type.host(RESOURCE2_ID), lambda _s, _r: None)
    host.add_resource("resource1-again", resource_type.host(RESOURCE1_ID), drop_again)

    def construct(_store: Any, rep: int) -> Any:
        return resource_host.own(rep, RESOURCE1_ID)

    def assert_rep(store: Any, handle: Any, rep: int) -> None:
        actual = _rep_of(api, store, handle)
        _expect(actual == rep, f"resource rep {actual} != {rep}")

    def simple(store: Any, handle: Any, rep: int) -> None:
        _expect(not handle.owned, "`simple` expects a borrowed handle")
        actual = _rep_of(api, store, handle)
        _expect(actual == rep, f"resource rep {actual} != {rep}")

    def take_borrow(_store: Any, a: Any, b: Any) -> None:
        _expect(not a.owned and not b.owned, "`take-borrow` expects two borrows")

    def take_own(_store: Any, a: Any, b: Any) -> None:
        _expect(not a.owned and b.owned, "`take-own` expects a borrow then an own")

    host.add_func("[constructor]resource1", construct)
    host.add_func("[static]resource1.assert", assert_rep)
    host.add_func("[static]resource1.last-drop", lambda _s: state.last_drop)
    host.add_func("[static]resource1.drops", lambda _s: state.drops)
    host.add_func("[method]resource1.simple", simple)
    host.add_func("[method]resource1.take-borrow", take_borrow)
    host.add_func("[method]resource1.take-own", take_own)


def _concurrent_definer(api: ComponentApi) -> Any:
    """How the API defines a host function that answers later, or None.

    wasmcomponent's internal hook (``LinkerInstance._add_func_concurrent``,
    whose function returns a ``HostPending``) stands in for Wasmtime's
    ``func_wrap_concurrent``; the public asyncio face comes later.
    """
    linker_instance = api.attr("LinkerInstance")
    if linker_instance is None or not hasattr(linker_instance, "_add_func_concurrent"):
        return None
    from wasmcomponent.concurrent.host import HostPending
    from wasmcomponent.concurrent.scheduler import scheduler_of

    return HostPending, scheduler_of


def _define_async_host(api: ComponentApi, concurrent: Any, root: Any, host: Any, items: HostItems) -> None:
    """The async items of instance `host`: answered when the loop next goes idle, or never."""
    pending_type, scheduler_of = concurrent

    def later(store: Any, value: Any) -> Any:
        pending = pending_type()
        scheduler_of(store).idle.append(lambda: pending.resolve(value))
        return pending

    names = ["return-two-slowly", "echo-slowly"]
    try:
        host._add_func_concurrent("return-two-slowly", lambda store: later(store, 2))
        host._add_func_concurrent("echo-slowly", lambda store, v: later(store, v))
        if api.supports_resources:
            host._add_func_concurrent("[method]resource1.never-return", lambda _s, _self: pending_type())
            names.append("[method]resource1.never-return")
    except Exception as exc:  # the API under test may lack a feature
        for name in names:
            items.unsupported[name] = f"host item could not be defined: {type(exc).__name__}: {exc}"
        return
    for name in names:
        items.unsupported.pop(name, None)


def _define_async_root(concurrent: Any, root: Any, items: HostItems) -> None:
    """The async items at the root: `host-echo-u32` answers at once, `never-return` never."""
    pending_type, _ = concurrent
    try:
        root.add_func("host-echo-u32", lambda _s, v: v)
        root._add_func_concurrent("never-return", lambda _s: pending_type())
    except Exception as exc:  # the API under test may lack a feature
        for name in ("host-echo-u32", "never-return"):
            items.unsupported[name] = f"host item could not be defined: {type(exc).__name__}: {exc}"
        return
    items.unsupported.pop("host-echo-u32", None)
    items.unsupported.pop("never-return", None)


def _try(items: HostItems, names: tuple[str, ...], define: Callable[[], None]) -> None:
    """Run one definition step; on failure record its names as unsupported."""
    try:
        define()
    except Exception as exc:  # the API under test may lack a feature
        reason = f"host item could not be defined: {type(exc).__name__}: {exc}"
        for name in names:
            items.unsupported.setdefault(name, reason)


def define_host(
    api: ComponentApi, linker: Any, engine: Any, *, misc_suite: bool
) -> HostItems:
    """Define the harness's host items in `linker` (a fresh linker per script)."""
    import wasmtime

    items = HostItems(HostState())
    items.unsupported.update(dict.fromkeys(ASYNC_ITEMS, ASYNC_REASON))
    concurrent = _concurrent_definer(api)
    with linker.root() as root:
        _try(items, ("host-return-two",), lambda: root.add_func("host-return-two", lambda _s: 2))
        if concurrent is not None:
            _define_async_root(concurrent, root, items)
        with root.add_instance("host") as host:
            _try(items, ("return-three",), lambda: host.add_func("return-three", lambda _s: 3))
            _try(items, ("return-hi",), lambda: host.add_func("return-hi", lambda _s: "hi"))

            def define_nested() -> None:
                with host.add_instance("nested") as nested:
                    nested.add_func("return-four", lambda _s: 4)

            _try(items, ("nested", "return-four"), define_nested)
            _try(items, ("simple-module",), lambda: host.add_module(
                "simple-module", wasmtime.Module(engine, SIMPLE_MODULE_WAT)))
            if api.supports_resources:
                _try(items, RESOURCE_ITEMS, lambda: _define_resources(api, host, items.state))
            else:
                items.unsupported.update(dict.fromkeys(RESOURCE_ITEMS, RESOURCE_REASON))
            if concurrent is not None:
                _define_async_host(api, concurrent, root, host, items)
        if misc_suite:

            def define_wasmtime() -> None:
                with root.add_instance("wasmtime") as wt:
                    wt.add_func("gc", lambda _s: None)
                    if concurrent is not None:
                        set_limit = api.attr("set_concurrency_limit")
                        wt.add_func("set-max-table-capacity", lambda store, limit: set_limit(store, limit))
                        items.unsupported.pop("set-max-table-capacity", None)

            _try(items, ("gc",), define_wasmtime)
    return items
