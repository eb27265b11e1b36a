"""Fleet reads cut into shards, a bounded number at once (hotdash_ops.fly.sharding)."""

from __future__ import annotations

import asyncio

import pytest

from hotdash_ops.fly.sharding import run_sharded, shards


def test_shards_are_consecutive_and_at_most_size() -> None:
    assert shards(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert shards([], 3) == []
    with pytest.raises(ValueError, match="size: must be at least 1"):
        shards([1], 0)


async def test_results_keep_item_order_and_parallel_shards_are_bounded() -> None:
    running = 0
    peak = 0

    async def work(chunk: list[int]) -> list[int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (5 - len(chunk)))  # later shards may finish first
        running -= 1
        return [i * 10 for i in chunk]

    out = await run_sharded(list(range(23)), work, size=4, parallel=2)
    assert out == [i * 10 for i in range(23)]
    assert peak == 2


async def test_a_shard_returning_the_wrong_count_is_an_error() -> None:
    async def short(chunk: list[int]) -> list[int]:
        return chunk[:-1]

    with pytest.raises(ValueError, match="work returned 2 results for 3 items"):
        await run_sharded([1, 2, 3], short, size=3, parallel=1)
    with pytest.raises(ValueError, match="parallel: must be at least 1"):
        await run_sharded([1], short, size=1, parallel=0)
