"""Guest of tests/test_type_imports.py (built with componentize-py at test time).

Its world `use`s a resource, a record and a variant of the imported
interface `host-res` at world level, so the component imports them again as
types with `eq` bounds.  Every export calls host functions that take and
return those types; the host test runs it on two runtimes and compares.
"""

import wit_world
from wit_world.imports import host_res
from wit_world.imports.host_res import Blob, Point, Shape, Shape_Circle, Shape_Empty, Shape_Rect


def _shape(s: Shape) -> str:
    if isinstance(s, Shape_Circle):
        return f"circle({s.value})"
    if isinstance(s, Shape_Rect):
        return f"rect({s.value.x},{s.value.y})"
    return "empty"


class WitWorld(wit_world.WitWorld):
    def run(self, seed: int) -> str:
        log = []
        p = host_res.translate(Point(seed, -seed), 3, 4)
        log.append(f"translate=({p.x},{p.y})")
        for s in (Shape_Circle(1.5), Shape_Rect(p), Shape_Empty()):
            log.append(f"scale={_shape(host_res.scale(s, 2.0))}")
        log.append("log=" + wit_world.log_shape(Shape_Rect(p), Point(seed, seed)))
        a = host_res.make_blob(f"seed-{seed}")
        with Blob(b"+xyz") as b:
            b.append(b"!")
            log.append(f"lens={host_res.blob_len(a)},{host_res.blob_len(b)}")
            merged = host_res.merge(a, b)  # `a` moves to the host
            log.append(f"b={b.read()!r}")
        with merged:
            log.append(f"merged={merged.read()!r}")
        return "; ".join(log)

    def bounce(self, p: Point, s: Shape) -> tuple[Point, Shape]:
        moved = host_res.translate(p, 1, 1)
        return moved, host_res.scale(s, 0.5)

    def wrap(self, text: str) -> Blob:
        blob = host_res.make_blob(text)
        blob.append(b"#")
        return blob

    def unwrap(self, b: Blob) -> bytes:
        with b:
            return b.read()

    def measure(self, b: Blob) -> int:
        return host_res.blob_len(b) + len(b.read())
