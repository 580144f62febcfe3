"""The exported `counter` resource (componentize-py looks it up in a module named after the interface)."""

from wit_world.exports import kinds as t


class Counter(t.Counter):
    def __init__(self, start: int) -> None:
        self.value = start

    def get(self) -> int:
        return self.value

    def add(self, n: int) -> None:
        self.value += n

    @classmethod
    def merge(cls, a: "Counter", b: "Counter") -> "Counter":
        return cls(a.value + b.value)
