"""Benchmark guest: `hello` prints and returns a greeting, `print-lines` prints n lines, `clock-reads` reads the clock n times."""

import sys
import time

import wit_world


class WitWorld(wit_world.WitWorld):
    def hello(self, name: str) -> str:
        greeting = f"Hello, {name}!"
        print(greeting)
        sys.stdout.flush()
        return greeting

    def print_lines(self, n: int) -> int:
        for i in range(n):
            print("line", i)
        sys.stdout.flush()
        return n

    def clock_reads(self, n: int) -> int:
        last = 0
        for _ in range(n):
            last = time.monotonic_ns()
        return last
