"""The all-types guest: echoes every WIT type kind and calls the host's interface."""

from typing import List, Optional, Tuple

import wit_world
from componentize_py_types import Err, Ok, Result, Some
from wit_world import exports, shout
from wit_world.exports import kinds as t
from wit_world.imports import host_api


class WitWorld(wit_world.WitWorld):
    def run(self, key: str) -> str:
        host_api.log(host_api.Level.HIGH, f"run {key}")
        found = host_api.lookup(key)
        entry = "none" if found is None else f"{found.key}={found.value}"
        scaled = host_api.scale([1, 2, 3], 10)
        try:
            parsed = str(host_api.parse(key))
        except Err as err:
            parsed = f"err {err.value}"
        return f"{entry} {scaled} {parsed} {shout(key)}"

    def greet(self, name: str) -> str:
        return f"Hello, {name}!"


class Kinds(exports.Kinds):
    def echo_bool(self, x: bool) -> bool:
        return x

    def echo_ints(self, a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int) -> Tuple[int, int, int, int, int, int, int, int]:
        return (a, b, c, d, e, f, g, h)

    def echo_floats(self, a: float, b: float) -> Tuple[float, float]:
        return (a, b)

    def echo_char(self, c: str) -> str:
        return c

    def echo_string(self, s: str) -> str:
        return s

    def echo_bytes(self, b: bytes) -> bytes:
        return b

    def echo_list(self, l: List[int]) -> List[int]:  # noqa: E741 - the WIT parameter is named `l`
        return l

    def echo_point(self, p: t.Point) -> t.Point:
        return p

    def echo_points(self, l: List[t.Point]) -> List[t.Point]:  # noqa: E741 - the WIT parameter is named `l`
        return l

    def echo_person(self, p: t.Person) -> t.Person:
        return p

    def echo_color(self, c: t.Color) -> t.Color:
        return c

    def echo_perms(self, p: t.Perms) -> t.Perms:
        return p

    def echo_shape(self, s: t.Shape) -> t.Shape:
        return s

    def echo_shapes(self, l: List[t.Shape]) -> List[t.Shape]:  # noqa: E741 - the WIT parameter is named `l`
        return l

    def echo_option(self, o: Optional[str]) -> Optional[str]:
        return o

    def echo_nested_option(self, o: Optional[Some[Optional[int]]]) -> Optional[Some[Optional[int]]]:
        return o

    def echo_result(self, r: Result[int, str]) -> int:
        if isinstance(r, Err):
            raise r
        return r.value

    def echo_results(self, l: List[Result[t.Point, t.Color]]) -> List[Result[t.Point, t.Color]]:  # noqa: E741 - the WIT parameter is named `l`
        return l

    def echo_tuple(self, v: Tuple[int, str, t.Point]) -> Tuple[int, str, t.Point]:
        return v

    def divide(self, a: int, b: int) -> int:
        if b == 0:
            raise Err("division by zero")
        return a // b

    def check(self, ok: bool) -> None:
        if not ok:
            raise Err(None)

    def total(self, a: t.Counter, b: t.Counter) -> int:
        return a.get() + b.get()

    def noop(self) -> None:
        pass


_ = Ok
