"""Fan a fleet-wide read out over several small HTTP clients instead of one big one.

Why: httpcore's connection pool, each time it hands out a connection, walks every connection
it holds and polls each idle socket (`has_expired` -> `is_socket_readable`). With one pool of
N connections a fleet read costs O(N) syscalls per request; measured over 200 flysim apps
answering in 200 ms on 2 cores: one client with 100 connections took 5.7 s, ten clients with
10 connections each took 1.0 s, one client with 20 connections 2.4 s. So each shard of at most
`size` apps gets its own client, and at most `parallel` shards run at once: the number of
connections is bounded by `size * parallel`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def shards(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` cut into consecutive lists of at most `size`."""
    if size < 1:
        raise ValueError("size: must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


async def run_sharded(
    items: Sequence[T],
    work: Callable[[list[T]], Awaitable[list[R]]],
    *,
    size: int,
    parallel: int,
) -> list[R]:
    """`work` on each shard, at most `parallel` shards at once; results in `items` order.

    `work` must return one result per item of its shard, in order.
    """
    if parallel < 1:
        raise ValueError("parallel: must be at least 1")
    gate = asyncio.Semaphore(parallel)

    async def one(shard: list[T]) -> list[R]:
        async with gate:
            results = await work(shard)
        if len(results) != len(shard):
            raise ValueError(f"work returned {len(results)} results for {len(shard)} items")
        return results

    done = await asyncio.gather(*(one(s) for s in shards(items, size)))
    return [r for shard_results in done for r in shard_results]
