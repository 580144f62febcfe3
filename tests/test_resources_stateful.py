"""Stateful property test of resource handles across two component instances.

A hypothesis `RuleBasedStateMachine` drives random sequences of operations on
one component (TWO_INSTANCES) made of two inner instances:

* `$A` defines the resource `r` (its destructor calls the host import
  `log-drop` with the rep) and `s` (no destructor) and exposes its handle
  table directly: `a-new`/`a-rep`/`a-drop`/`a-give`/`a-s-new`/`a-s-drop`
  are `canon lift`s of the intrinsics or of an identity function, so Python
  picks the indices.
* `$B` imports A's `r` and holds handles in its own table: `b-new` (A's
  constructor), `b-get` (a borrow lent to A), `b-send` (own moved to A),
  `b-fetch` (own moved from A), `b-drop`, `b-give`/`b-take` (own to/from
  Python), `b-borrow-get` (a borrow from Python, dropped by B), and two
  deliberate misuses: `b-keep-borrow` and `b-borrow-as-own`.
* Python holds `ResourceAny` values from `[constructor]r`, `a-give` and
  `b-give`, lends them (`[method]r.get`, `b-borrow-get`), moves them
  (`b-take`, `[static]r.stash`) and drops them.

A model mirrors both handle tables exactly as the spec's `Table` (index 0
reserved, LIFO free list), so every index a guest receives is predicted, and
records the reps whose destructor must have run.  After every step the
host's drop log must equal the model's; `teardown` drops everything still
alive and checks that every `r` ever created was destroyed exactly once.
Misuse (stale or unknown indices, wrong resource type, a kept borrow, a
borrow returned as an own) must raise `ComponentTrap` with wasmtime's message;
a trap poisons the store, so the machine then starts a fresh world.  Misuse
from Python (stale `ResourceAny`) must raise `WasmtimeError`, or
`ValueError("already closed")` for a handle moved into a component (as
wasmtime-py), and leave the world usable.

Examples: 150 by default (about 6 s); `WASMCOMPONENT_FUZZ_N=<n>` scales it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from wasmtime import Engine, Store, WasmtimeError

import wasmcomponent as wc
from wasmcomponent.errors import ComponentTrap

TWO_INSTANCES = r"""
(component
  (import "log-drop" (func $log-drop (param "rep" u32)))

  ;; $A defines `r` (destructor reports the rep to the host) and `s` (no destructor).
  (component $A
    (import "log-drop" (func $log-drop (param "rep" u32)))
    (core func $log (canon lower (func $log-drop)))
    (core module $dtor
      (import "" "log" (func $log (param i32)))
      (func (export "dtor") (param i32) (call $log (local.get 0))))
    (core instance $dtor (instantiate $dtor (with "" (instance (export "log" (func $log))))))
    (type $r' (resource (rep i32) (dtor (core func $dtor "dtor"))))
    (type $s' (resource (rep i32)))
    (export $r "r" (type $r'))
    (export $s "s" (type $s'))
    (core func $new (canon resource.new $r))
    (core func $rep (canon resource.rep $r))
    (core func $drop (canon resource.drop $r))
    (core func $s-new (canon resource.new $s))
    (core func $s-drop (canon resource.drop $s))
    (core module $m
      (func (export "id") (param i32) (result i32) (local.get 0)))
    (core instance $m (instantiate $m))
    (func (export "[constructor]r") (param "rep" u32) (result (own $r)) (canon lift (core func $new)))
    (func (export "[method]r.get") (param "self" (borrow $r)) (result u32) (canon lift (core func $m "id")))
    (func (export "[static]r.stash") (param "x" (own $r)) (result u32) (canon lift (core func $m "id")))
    (func (export "a-new") (param "rep" u32) (result u32) (canon lift (core func $new)))
    (func (export "a-rep") (param "idx" u32) (result u32) (canon lift (core func $rep)))
    (func (export "a-drop") (param "idx" u32) (canon lift (core func $drop)))
    (func (export "a-give") (param "idx" u32) (result (own $r)) (canon lift (core func $m "id")))
    (func (export "a-s-new") (param "rep" u32) (result u32) (canon lift (core func $s-new)))
    (func (export "a-s-drop") (param "idx" u32) (canon lift (core func $s-drop))))
  (instance $a (instantiate $A (with "log-drop" (func $log-drop))))

  ;; $B holds handles to A's `r` in its own table and moves them around.
  (component $B
    (import "a" (instance $a
      (export "r" (type $r (sub resource)))
      (export "[constructor]r" (func (param "rep" u32) (result (own $r))))
      (export "[method]r.get" (func (param "self" (borrow $r)) (result u32)))
      (export "[static]r.stash" (func (param "x" (own $r)) (result u32)))
      (export "a-give" (func (param "idx" u32) (result (own $r))))))
    (alias export $a "r" (type $r))
    (core func $ctor (canon lower (func $a "[constructor]r")))
    (core func $get (canon lower (func $a "[method]r.get")))
    (core func $stash (canon lower (func $a "[static]r.stash")))
    (core func $fetch (canon lower (func $a "a-give")))
    (core func $drop (canon resource.drop $r))
    (core module $m
      (import "" "ctor" (func $ctor (param i32) (result i32)))
      (import "" "get" (func $get (param i32) (result i32)))
      (import "" "stash" (func $stash (param i32) (result i32)))
      (import "" "fetch" (func $fetch (param i32) (result i32)))
      (import "" "drop" (func $drop (param i32)))
      (func (export "id") (param i32) (result i32) (local.get 0))
      (func (export "new") (param i32) (result i32) (call $ctor (local.get 0)))
      (func (export "get") (param i32) (result i32) (call $get (local.get 0)))
      (func (export "send") (param i32) (result i32) (call $stash (local.get 0)))
      (func (export "fetch") (param i32) (result i32) (call $fetch (local.get 0)))
      (func (export "borrow-get") (param $h i32) (result i32)
        (local $r i32)
        (local.set $r (call $get (local.get $h)))
        (call $drop (local.get $h))
        (local.get $r)))
    (core instance $m (instantiate $m (with "" (instance
      (export "ctor" (func $ctor)) (export "get" (func $get)) (export "stash" (func $stash))
      (export "fetch" (func $fetch)) (export "drop" (func $drop))))))
    (func (export "b-new") (param "rep" u32) (result u32) (canon lift (core func $m "new")))
    (func (export "b-get") (param "idx" u32) (result u32) (canon lift (core func $m "get")))
    (func (export "b-send") (param "idx" u32) (result u32) (canon lift (core func $m "send")))
    (func (export "b-fetch") (param "idx" u32) (result u32) (canon lift (core func $m "fetch")))
    (func (export "b-drop") (param "idx" u32) (canon lift (core func $drop)))
    (func (export "b-give") (param "idx" u32) (result (own $r)) (canon lift (core func $m "id")))
    (func (export "b-take") (param "x" (own $r)) (result u32) (canon lift (core func $m "id")))
    (func (export "b-borrow-get") (param "x" (borrow $r)) (result u32) (canon lift (core func $m "borrow-get")))
    ;; misuse: returns with the borrow still in its table
    (func (export "b-keep-borrow") (param "x" (borrow $r)) (result u32) (canon lift (core func $m "id")))
    ;; misuse: hands a borrow back as an own
    (func (export "b-borrow-as-own") (param "x" (borrow $r)) (result (own $r)) (canon lift (core func $m "id"))))
  (instance $b (instantiate $B (with "a" (instance $a))))

  (export $r "r" (type $a "r"))
  (export "[constructor]r" (func $a "[constructor]r") (func (param "rep" u32) (result (own $r))))
  (export "[method]r.get" (func $a "[method]r.get") (func (param "self" (borrow $r)) (result u32)))
  (export "[static]r.stash" (func $a "[static]r.stash") (func (param "x" (own $r)) (result u32)))
  (export "a-new" (func $a "a-new"))
  (export "a-rep" (func $a "a-rep"))
  (export "a-drop" (func $a "a-drop"))
  (export "a-give" (func $a "a-give") (func (param "idx" u32) (result (own $r))))
  (export "a-s-new" (func $a "a-s-new"))
  (export "a-s-drop" (func $a "a-s-drop"))
  (export "b-new" (func $b "b-new"))
  (export "b-get" (func $b "b-get"))
  (export "b-send" (func $b "b-send"))
  (export "b-fetch" (func $b "b-fetch"))
  (export "b-drop" (func $b "b-drop"))
  (export "b-give" (func $b "b-give") (func (param "idx" u32) (result (own $r))))
  (export "b-take" (func $b "b-take") (func (param "x" (own $r)) (result u32)))
  (export "b-borrow-get" (func $b "b-borrow-get") (func (param "x" (borrow $r)) (result u32)))
  (export "b-keep-borrow" (func $b "b-keep-borrow") (func (param "x" (borrow $r)) (result u32)))
  (export "b-borrow-as-own" (func $b "b-borrow-as-own") (func (param "x" (borrow $r)) (result (own $r))))
)
"""


# --------------------------------------------------------------------------
# Model


@dataclass
class Entry:
    """One live table entry: its resource type ("r" or "s") and rep."""

    kind: str
    rep: int


@dataclass
class TableModel:
    """The spec's handle table: index 0 reserved, freed indices reused LIFO."""

    array: list[Optional[Entry]] = field(default_factory=lambda: [None])
    free: list[int] = field(default_factory=list)

    def add(self, entry: Entry) -> int:
        if self.free:
            index = self.free.pop()
            self.array[index] = entry
            return index
        self.array.append(entry)
        return len(self.array) - 1

    def remove(self, index: int) -> Entry:
        entry = self.array[index]
        assert entry is not None
        self.array[index] = None
        self.free.append(index)
        return entry

    def live(self, kind: str) -> list[int]:
        return [i for i, e in enumerate(self.array) if e is not None and e.kind == kind]

    def invalid(self) -> list[int]:
        """Indices that name no entry: 0, freed slots, past the end, huge."""
        return [0, *self.free, len(self.array), len(self.array) + 7, 2**31, 2**32 - 1]


@dataclass
class PyHandle:
    """A `ResourceAny` held by Python and what the model knows of it."""

    value: Any
    rep: int
    state: str = "live"  # "live", "dropped" or "moved"


# --------------------------------------------------------------------------
# The world under test


class World:
    """One store with TWO_INSTANCES instantiated, and the model of its tables."""

    def __init__(self, component: Any, engine: Engine) -> None:
        self.store = Store(engine)
        self.logged: list[int] = []
        linker = wc.Linker(engine)
        with linker.root() as root:
            root.add_func("log-drop", lambda _store, rep: self.logged.append(rep))
        self.instance = linker.instantiate(self.store, component)
        self.funcs: dict[str, Any] = {}
        self.a = TableModel()
        self.b = TableModel()
        self.py: list[PyHandle] = []
        self.expected_drops: list[int] = []
        self.created: list[int] = []

    def call(self, name: str, *args: Any) -> Any:
        func = self.funcs.get(name)
        if func is None:
            func = self.funcs[name] = self.instance.get_func(self.store, name)
            assert func is not None, name
        result = func(self.store, *args)
        func.post_return(self.store)
        return result

    def through_a(self, entry: Entry) -> None:
        """A's constructor lifted as an own: the entry enters A's table and leaves it."""
        self.a.remove(self.a.add(entry))

    def live_py(self) -> list[PyHandle]:
        return [h for h in self.py if h.state == "live"]


def compiled_component(engine: Engine) -> Any:
    return wc.Component(engine, TWO_INSTANCES)


ENGINE = Engine()
COMPONENT = compiled_component(ENGINE)
EXAMPLES = max(1, int(os.environ.get("WASMCOMPONENT_FUZZ_N", "150")))

TRAP_MESSAGES = {
    "unknown": r"unknown handle index",
    "wrong-type": r"used with the wrong type",
    "kept-borrow": r"borrow handles still remain at the end of the call",
    "borrow-as-own": r"borrow handles still remain|cannot lift own resource from a borrow",
}


class ResourceMachine(RuleBasedStateMachine):
    """Random resource operations checked against the table model."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World(COMPONENT, ENGINE)
        self.next_rep = 1000
        self.worlds = 1

    def fresh_rep(self) -> int:
        self.next_rep += 1
        return self.next_rep

    def expect_trap(self, kind: str, name: str, *args: Any) -> None:
        """`name(*args)` must trap with `kind`'s message; then start a fresh world."""
        w = self.world
        with pytest.raises(ComponentTrap, match=TRAP_MESSAGES[kind]):
            w.call(name, *args)
        assert w.logged == w.expected_drops
        with pytest.raises(ComponentTrap, match="cannot enter component instance"):
            w.call("a-new", 1)  # poisoned
        self.world = World(COMPONENT, ENGINE)
        self.worlds += 1

    # ---------------------------------------------------------------- creating

    @rule()
    def a_new(self) -> None:
        w, rep = self.world, self.fresh_rep()
        assert w.call("a-new", rep) == w.a.add(Entry("r", rep))
        w.created.append(rep)

    @rule()
    def a_s_new(self) -> None:
        w, rep = self.world, self.fresh_rep()
        assert w.call("a-s-new", rep) == w.a.add(Entry("s", rep))

    @rule()
    def b_new(self) -> None:
        w, rep = self.world, self.fresh_rep()
        got = w.call("b-new", rep)
        w.through_a(Entry("r", rep))
        assert got == w.b.add(Entry("r", rep))
        w.created.append(rep)

    @rule()
    def py_new(self) -> None:
        w, rep = self.world, self.fresh_rep()
        value = w.call("[constructor]r", rep)
        w.through_a(Entry("r", rep))
        assert isinstance(value, wc.ResourceAny) and value.owned
        w.py.append(PyHandle(value, rep))
        w.created.append(rep)

    # ---------------------------------------------------------------- rep / borrow

    @precondition(lambda self: self.world.a.live("r"))
    @rule(pick=st.integers(0, 2**16))
    def a_rep(self, pick: int) -> None:
        w = self.world
        live = w.a.live("r")
        index = live[pick % len(live)]
        entry = w.a.array[index]
        assert entry is not None and w.call("a-rep", index) == entry.rep

    @precondition(lambda self: self.world.b.live("r"))
    @rule(pick=st.integers(0, 2**16))
    def b_get(self, pick: int) -> None:
        w = self.world
        live = w.b.live("r")
        index = live[pick % len(live)]
        entry = w.b.array[index]
        assert entry is not None and w.call("b-get", index) == entry.rep

    @precondition(lambda self: self.world.live_py())
    @rule(pick=st.integers(0, 2**16), via_b=st.booleans())
    def py_borrow(self, pick: int, via_b: bool) -> None:
        w = self.world
        live = w.live_py()
        handle = live[pick % len(live)]
        if via_b:
            assert w.call("b-borrow-get", handle.value) == handle.rep
            w.b.remove(w.b.add(Entry("r", handle.rep)))  # B's borrow entry, dropped by B
        else:
            assert w.call("[method]r.get", handle.value) == handle.rep
        assert handle.value.owned

    # ---------------------------------------------------------------- transfers

    @precondition(lambda self: self.world.b.live("r"))
    @rule(pick=st.integers(0, 2**16))
    def b_send(self, pick: int) -> None:
        w = self.world
        live = w.b.live("r")
        entry = w.b.remove(live[pick % len(live)])
        assert w.call("b-send", live[pick % len(live)]) == w.a.add(entry)

    @precondition(lambda self: self.world.a.live("r"))
    @rule(pick=st.integers(0, 2**16))
    def b_fetch(self, pick: int) -> None:
        w = self.world
        live = w.a.live("r")
        entry = w.a.remove(live[pick % len(live)])
        assert w.call("b-fetch", live[pick % len(live)]) == w.b.add(entry)

    @precondition(lambda self: self.world.b.live("r") or self.world.a.live("r"))
    @rule(pick=st.integers(0, 2**16), from_b=st.booleans())
    def give_to_python(self, pick: int, from_b: bool) -> None:
        w = self.world
        table, name = (w.b, "b-give") if from_b and w.b.live("r") or not w.a.live("r") else (w.a, "a-give")
        live = table.live("r")
        index = live[pick % len(live)]
        entry = table.remove(index)
        value = w.call(name, index)
        assert isinstance(value, wc.ResourceAny) and value.owned
        w.py.append(PyHandle(value, entry.rep))

    @precondition(lambda self: self.world.live_py())
    @rule(pick=st.integers(0, 2**16), to_b=st.booleans())
    def take_from_python(self, pick: int, to_b: bool) -> None:
        w = self.world
        live = w.live_py()
        handle = live[pick % len(live)]
        table, name = (w.b, "b-take") if to_b else (w.a, "[static]r.stash")
        assert w.call(name, handle.value) == table.add(Entry("r", handle.rep))
        handle.state = "moved"

    # ---------------------------------------------------------------- dropping

    @precondition(lambda self: self.world.a.live("r") or self.world.a.live("s"))
    @rule(pick=st.integers(0, 2**16), kind=st.sampled_from(["r", "s"]))
    def a_drop(self, pick: int, kind: str) -> None:
        w = self.world
        live = w.a.live(kind) or w.a.live("s" if kind == "r" else "r")
        index = live[pick % len(live)]
        entry = w.a.remove(index)
        w.call("a-drop" if entry.kind == "r" else "a-s-drop", index)
        if entry.kind == "r":
            w.expected_drops.append(entry.rep)

    @precondition(lambda self: self.world.b.live("r"))
    @rule(pick=st.integers(0, 2**16))
    def b_drop(self, pick: int) -> None:
        w = self.world
        live = w.b.live("r")
        entry = w.b.remove(live[pick % len(live)])
        w.call("b-drop", live[pick % len(live)])
        w.expected_drops.append(entry.rep)

    @precondition(lambda self: self.world.live_py())
    @rule(pick=st.integers(0, 2**16))
    def py_drop(self, pick: int) -> None:
        w = self.world
        live = w.live_py()
        handle = live[pick % len(live)]
        handle.value.drop(w.store)
        handle.state = "dropped"
        w.expected_drops.append(handle.rep)

    # ---------------------------------------------------------------- misuse

    @rule(pick=st.integers(0, 2**16), kind=st.sampled_from(["unknown", "wrong-type", "borrow"]),
          name=st.sampled_from(["a-rep", "a-drop", "a-give", "b-get", "b-send", "b-fetch",
                                "b-drop", "b-give", "a-s-drop"]))
    def misuse_in_guest(self, pick: int, kind: str, name: str) -> None:
        """One misuse that must trap (one rule, so that traps stay rare)."""
        w = self.world
        s_live, r_live = w.a.live("s"), w.a.live("r")
        live_py = w.live_py()
        if kind == "wrong-type" and s_live:
            name = ("a-rep", "a-drop", "a-give", "b-fetch")[pick % 4]
            self.expect_trap("wrong-type", name, s_live[pick % len(s_live)])
        elif kind == "wrong-type" and r_live:
            self.expect_trap("wrong-type", "a-s-drop", r_live[pick % len(r_live)])
        elif kind == "borrow" and live_py:
            value = live_py[pick % len(live_py)].value
            if pick % 2:
                self.expect_trap("kept-borrow", "b-keep-borrow", value)
            else:
                self.expect_trap("borrow-as-own", "b-borrow-as-own", value)
        else:
            table = w.a if name.startswith("a-") or name == "b-fetch" else w.b
            invalid = table.invalid()
            self.expect_trap("unknown", name, invalid[pick % len(invalid)])

    @precondition(lambda self: any(h.state != "live" for h in self.world.py))
    @rule(pick=st.integers(0, 2**16), how=st.sampled_from(["drop", "get", "take", "lend"]))
    def misuse_stale_python_handle(self, pick: int, how: str) -> None:
        w = self.world
        stale = [h for h in w.py if h.state != "live"]
        handle = stale[pick % len(stale)]
        error = ValueError if handle.state == "moved" else WasmtimeError
        with pytest.raises(error) as caught:
            if how == "drop":
                handle.value.drop(w.store)
            elif how == "get":
                w.call("[method]r.get", handle.value)
            elif how == "take":
                w.call("b-take", handle.value)
            else:
                w.call("b-borrow-get", handle.value)
        if error is ValueError:
            assert "already closed" in str(caught.value)
        else:
            assert not isinstance(caught.value, ComponentTrap)
        # Refused on the Python side: nothing changed and the world is usable.
        rep = self.fresh_rep()
        assert w.call("a-new", rep) == w.a.add(Entry("r", rep))
        w.created.append(rep)

    # ---------------------------------------------------------------- checks

    @invariant()
    def destructors_ran_as_modelled(self) -> None:
        w = self.world
        assert w.logged == w.expected_drops
        assert len(set(w.logged)) == len(w.logged)

    def teardown(self) -> None:
        """Drop everything still alive; every `r` must be destroyed exactly once."""
        w = self.world
        for index in w.b.live("r"):
            w.expected_drops.append(w.b.remove(index).rep)
            w.call("b-drop", index)
        for kind in ("r", "s"):
            for index in w.a.live(kind):
                entry = w.a.remove(index)
                w.call("a-drop" if kind == "r" else "a-s-drop", index)
                if kind == "r":
                    w.expected_drops.append(entry.rep)
        for handle in w.live_py():
            handle.value.drop(w.store)
            handle.state = "dropped"
            w.expected_drops.append(handle.rep)
        assert w.logged == w.expected_drops
        assert sorted(w.logged) == sorted(w.created)


ResourceMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestResourceMachine = ResourceMachine.TestCase
