"""``wasi:random`` 0.2: random, insecure and insecure-seed.

Secure bytes come from ``os.urandom`` unless the configuration injects a
generator (``deterministic`` mode seeds one: for tests, it breaks the
interface's contract on purpose).  Requests above ``max_random_size`` trap,
as in wasmtime: the guest controls the length.  ``insecure-seed`` is fixed for
the context's life.
"""

from __future__ import annotations

import os
import random as _random
from typing import TYPE_CHECKING, Callable

from .ctx import Interface, trap

if TYPE_CHECKING:
    from .config import WasiConfig
    from .ctx import WasiCtx

U64 = (1 << 64) - 1


class RandomState:
    """The random sources of one context."""

    def __init__(self, config: WasiConfig) -> None:
        self.secure: Callable[[int], bytes] = config.secure_random or os.urandom
        self.insecure = config.insecure_random or _random.Random(os.urandom(16))
        seed = config.insecure_random_seed
        if seed is None:
            seed = int.from_bytes(os.urandom(16), "little")
        self.seed = (seed & U64, (seed >> 64) & U64)
        self.max_size = config.max_random_size

    def check(self, size: int) -> None:
        if size > self.max_size:
            raise trap(f"requested {size} random bytes, more than the limit of {self.max_size}")


RANDOM = Interface("wasi:random/random")
INSECURE = Interface("wasi:random/insecure")
INSECURE_SEED = Interface("wasi:random/insecure-seed")
INTERFACES = [RANDOM, INSECURE, INSECURE_SEED]


@RANDOM.func("get-random-bytes")
def get_random_bytes(ctx: WasiCtx, size: int) -> bytes:
    state = ctx.random
    state.check(size)
    data = bytes(state.secure(size))
    if len(data) != size:
        raise RuntimeError("the configured random source returned the wrong number of bytes")
    return data


@RANDOM.func("get-random-u64")
def get_random_u64(ctx: WasiCtx) -> int:
    return int.from_bytes(ctx.random.secure(8), "little")


@INSECURE.func("get-insecure-random-bytes")
def get_insecure_random_bytes(ctx: WasiCtx, size: int) -> bytes:
    state = ctx.random
    state.check(size)
    return state.insecure.randbytes(size)


@INSECURE.func("get-insecure-random-u64")
def get_insecure_random_u64(ctx: WasiCtx) -> int:
    return ctx.random.insecure.getrandbits(64)


@INSECURE_SEED.func("insecure-seed")
def insecure_seed(ctx: WasiCtx) -> tuple[int, int]:
    return ctx.random.seed
