"""Stages that hand their work to other threads: the ground truth for thread attribution.

`pooled` submits to its own ThreadPoolExecutor (as LangChain's RunnableParallel does), `threaded`
starts a threading.Thread, `offloaded` is async and uses asyncio.to_thread. Each waits for the
work, so the stage's own thread only waits; the CPU work (`pool_work`, `thread_work`,
`offload_work`) and the allocations (`pool_alloc`) happen on the other threads.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="user-pool")  # created outside any stage


def pool_work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 11
    return total


def pool_alloc(n: int) -> int:
    kept = [bytearray(16384) for _ in range(n)]
    return len(kept)


def thread_work(n: int, out: list[int]) -> None:
    total = 0
    for i in range(n):
        total ^= i * 3
    out.append(total)


def offload_work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 13
    return total


def pooled(state: Any) -> int:
    futures = [_POOL.submit(pool_work, 200_000), _POOL.submit(pool_work, 200_000), _POOL.submit(pool_alloc, 400)]
    return sum(f.result() for f in futures)


def threaded(state: Any) -> int:
    out: list[int] = []
    worker = threading.Thread(target=thread_work, args=(300_000, out))
    worker.start()
    worker.join()
    return out[0]


async def offloaded(state: Any) -> int:
    return await asyncio.to_thread(offload_work, 300_000)


def teardown(_ctx: Any) -> None:
    _POOL.shutdown(wait=True)
