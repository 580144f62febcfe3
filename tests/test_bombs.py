"""Type-size and nesting bombs: small inputs must cost little (issue 11, point 6).

Every component built by ``tests/bombs.py`` is a few KB at most but expands to
an exponentially large type, or nests components, instance types, component
types or value types deeply, or holds more than a thousand modules.  For each
one, wasmtime-py's ``wasmtime.component.Component`` (wasmparser) is the
oracle:

* if wasmtime rejects it, wasmcomponent rejects it too, with wasmparser's
  message ("effective type size exceeds the limit of 1000000", "component type
  nesting is too deep", "modules and components count exceeds limit of 1000",
  ...);
* if wasmtime accepts it, wasmcomponent accepts it, or raises
  ``UnsupportedError`` for its documented limits (components nested more than
  100 deep, lifted/lowered function types of effective size above 10,000,
  re-exports of imported instances listing more than 10,000 items);
  an accepted component is instantiated and its functions' types reflected.

The bound the issue sets is checked per input: under 1 s of CPU time
(``time.process_time``, so that other processes on the machine do not count)
and under 100 MB of Python memory at peak (``tracemalloc``).
"""

from __future__ import annotations

import re
import time
import tracemalloc
from typing import Callable, Optional

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bombs
from wasmcomponent import Component, Linker
from wasmcomponent.errors import ComponentError, UnsupportedError

wc = pytest.importorskip("wasmtime.component")

MAX_SECONDS = 1.0  # the bound, in CPU seconds
MAX_BYTES = 100 << 20  # the bound on Python memory (tracemalloc peak)
OFFSET = re.compile(r"\s*\(at offset 0x[0-9a-f]+\)")

ENGINE = wasmtime.Engine()


def reference_error(data: bytes) -> Optional[str]:
    """wasmtime's innermost message for ``data`` without its offset, or None if it loads."""
    try:
        wc.Component(ENGINE, data)
    except wasmtime.WasmtimeError as err:
        innermost = str(err).split("Caused by:")[-1].strip().splitlines()[0].strip()
        return OFFSET.sub("", innermost)
    return None


def exercise(data: bytes) -> None:
    """Load ``data``; if it loads, reflect its type, instantiate it and reflect its functions."""
    component = Component(ENGINE, data)
    ctype = component.type
    imports = ctype.imports(ENGINE)
    exports = ctype.exports(ENGINE)
    if imports:
        return
    store = wasmtime.Store(ENGINE)
    instance = Linker(ENGINE).instantiate(store, component)
    for name in exports:
        func = instance.get_func(store, name)
        if func is not None:
            ty = func.type(store)
            assert [param for param, _ in ty.params] == ["x"]


def measured(run: Callable[[], None]) -> tuple[Optional[BaseException], float, int]:
    """Run ``run``; return what it raised, its CPU time and its tracemalloc peak."""
    error: Optional[BaseException] = None
    tracemalloc.start()
    start = time.process_time()
    try:
        run()
    except Exception as exc:  # checked by the caller
        error = exc
    finally:
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, elapsed, peak


def check_bomb(data: bytes) -> None:
    expected = reference_error(data)
    error, elapsed, peak = measured(lambda: exercise(data))
    assert elapsed < MAX_SECONDS, f"{len(data)}-byte input took {elapsed:.2f} s of CPU"
    assert peak < MAX_BYTES, f"{len(data)}-byte input peaked at {peak >> 20} MB"
    if error is not None and not isinstance(error, ComponentError):
        raise AssertionError(f"foreign exception {type(error).__name__}") from error
    if expected is None:
        # Valid: accepted, or beyond one of this runtime's documented limits.
        assert error is None or isinstance(error, UnsupportedError), str(error)
    else:
        assert error is not None, f"accepted, wasmtime rejects it: {expected}"
        assert not isinstance(error, UnsupportedError), str(error)
        assert expected in str(error), f"expected `{expected}`, got `{error}`"


@pytest.mark.parametrize("index", range(len(bombs.seeds())))
def test_fuzzer_seed_bombs(index: int) -> None:
    check_bomb(bombs.seeds()[index])


bomb_inputs = st.one_of(
    st.builds(bombs.doubling_chain, st.sampled_from(bombs.KINDS), st.integers(1, 64),
              st.sampled_from(bombs.USES)),
    st.builds(bombs.twin_chains, st.sampled_from(("tuple", "record", "variant", "result")),
              st.integers(1, 40)),
    st.builds(bombs.instance_doubling, st.integers(1, 64)),
    st.one_of(st.integers(1, 16), st.integers(19, 40)).map(bombs.reexported_instance),
    st.builds(bombs.nested_components, st.integers(1, 160), st.booleans()),
    st.builds(bombs.nested_instance_types, st.integers(1, 300)),
    st.builds(bombs.nested_component_types, st.integers(1, 300)),
    st.builds(bombs.nested_value_types, st.sampled_from(("list", "option", "tuple")),
              st.integers(1, 300)),
    st.builds(bombs.many_modules, st.integers(995, 1005)),
    st.builds(bombs.outer_alias_chain, st.integers(1, 99)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bomb_inputs)
def test_bombs_cost_little_and_match_wasmtime(data: bytes) -> None:
    check_bomb(data)


def test_doubling_chain_is_small_but_huge_when_expanded() -> None:
    """The generator does what the test relies on: 60 steps, a few hundred bytes."""
    data = bombs.doubling_chain("tuple", 60)
    assert len(data) < 1000
    assert reference_error(data) == "effective type size exceeds the limit of 1000000"
    with pytest.raises(ComponentError, match="effective type size exceeds the limit of 1000000"):
        Component(ENGINE, data)


def test_limits_at_the_boundary() -> None:
    """wasmparser's limits are exact: 100 nested types and 1000 modules load, one more fails."""
    Component(ENGINE, bombs.nested_instance_types(100))
    with pytest.raises(ComponentError, match="component type nesting is too deep"):
        Component(ENGINE, bombs.nested_instance_types(101))
    Component(ENGINE, bombs.many_modules(999))
    with pytest.raises(ComponentError, match="modules and components count exceeds limit of 1000"):
        Component(ENGINE, bombs.many_modules(1000))
    Component(ENGINE, bombs.nested_components(100))
    with pytest.raises(UnsupportedError, match="nested more than 100 deep"):
        Component(ENGINE, bombs.nested_components(101))


def test_unknown_imports_as_traps_is_bounded() -> None:
    """An imported doubling instance is stubbed item by item: small ones link, and
    past ``MAX_TRAP_DEFINITIONS`` items the linker refuses instead of expanding."""
    from wasmcomponent.runtime.linker import MAX_TRAP_DEFINITIONS

    small = Component(ENGINE, bombs.instance_doubling(6))
    linker = Linker(ENGINE)
    linker.define_unknown_imports_as_traps(small)
    linker.instantiate(wasmtime.Store(ENGINE), small)

    big = Component(ENGINE, bombs.instance_doubling(18))  # 2**19 - 1 items
    error, elapsed, peak = measured(lambda: Linker(ENGINE).define_unknown_imports_as_traps(big))
    assert isinstance(error, UnsupportedError) and str(MAX_TRAP_DEFINITIONS) in str(error)
    assert elapsed < 3 * MAX_SECONDS and peak < MAX_BYTES  # 10,000 definitions at most
