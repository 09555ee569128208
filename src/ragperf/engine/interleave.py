"""The parent's driver of a `ragperf compare`: two served workers, their measured blocks alternated.

Both workers set up and warm up on their own; once both wait for commands, block pair p runs the same
queries on each side, one side right after the other. Which side goes first follows the Thue-Morse
sequence (AB BA BA AB BA AB AB BA ...: blocks ABBA BAAB ...), so neither side always goes first and a
linear or quadratic drift over the run weighs on both sides alike. One stop signal ends the blocks: each
worker finishes its query in flight and tears down; a second one kills both. The process handling is
`supervisor.Worker`'s, as for one run.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ragperf.engine.events import BlockDone, End, Fatal, Measuring
from ragperf.engine.served import END, Block, block_command
from ragperf.interrupts import SignalLatch

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ragperf.engine.supervisor import Worker

__all__ = ["SIDES", "Plan", "Planned", "Side", "block_plan", "drive"]

Side = Literal["baseline", "new"]
SIDES: tuple[Side, Side] = ("baseline", "new")
_WAIT_S = 0.005  # a block's end is seen within this: the parent's poll is what a block switch costs


@dataclass(frozen=True)
class Planned:
    """One block of one side, in the order the driver runs them."""

    side: Side
    block: Block
    first_in_pair: bool


@dataclass
class Plan:
    """The blocks to run, and the ones each side was asked for (the partly run last one included)."""

    steps: tuple[Planned, ...]
    sent: dict[Side, list[Planned]] = field(default_factory=lambda: {side: [] for side in SIDES})


def baseline_first(pair: int) -> bool:
    """Thue-Morse: the baseline goes first in pair p when p has an even number of 1 bits."""
    return bin(pair).count("1") % 2 == 0


def block_plan(measured: int, block: int, n_queries: int) -> Plan:
    """`measured` queries a side in blocks of `block` (the last one shorter), counterbalanced pair by pair.

    Pair p runs the query set's positions p * block, p * block + 1, ... on both sides.
    """
    steps: list[Planned] = []
    for pair, start in enumerate(range(0, measured, block)):
        size = min(block, measured - start)
        order: Sequence[Side] = SIDES if baseline_first(pair) else SIDES[::-1]
        for position, side in enumerate(order):
            steps.append(Planned(side, Block(pair, start % n_queries, size), first_in_pair=position == 0))
    return Plan(tuple(steps))


def drive(workers: dict[Side, Worker], plan: Plan) -> int | None:
    """Run the plan on the two served workers to their end; return the first stop signal, if one came."""

    def on_signal(signum: int, count: int) -> None:
        for worker in workers.values():
            worker.on_signal(signum, count)

    with SignalLatch(on_signal) as latch:
        if _wait(workers, latch, lambda: all(_serving(w) for w in workers.values())):
            for step in plan.steps:
                worker = workers[step.side]
                if latch.count or not worker.send(block_command(step.block)):
                    break
                plan.sent[step.side].append(step)
                if not _wait(workers, latch, functools.partial(_finished, worker, step.block.block)):
                    break
        for worker in workers.values():
            worker.send(END)
            worker.close_input()
        _wait(workers, latch, lambda: not any(w.running for w in workers.values()), stop_early=False)
        return latch.signum


def _serving(worker: Worker) -> bool:
    return any(isinstance(e, Measuring) for e in worker.result.events)


def _finished(worker: Worker, block: int) -> bool:
    return any(isinstance(e, BlockDone) and e.block == block for e in reversed(worker.result.events))


def _gone(worker: Worker) -> bool:
    """The worker cannot take more blocks: it exited, failed, or ended its measured phase."""
    return not worker.running or any(isinstance(e, (End, Fatal)) for e in worker.result.events)


def _wait(
    workers: dict[Side, Worker], latch: SignalLatch, done: Callable[[], bool], *, stop_early: bool = True
) -> bool:
    """Follow both workers until `done()`; False when a stop signal or a worker's end cuts the wait short."""
    while True:
        now = time.monotonic()
        for worker in workers.values():
            worker.follow()
            worker.check(now, stopping=latch.count > 0)
        if done():
            return True
        if stop_early and (latch.count or any(_gone(w) for w in workers.values())):
            return False
        if not stop_early and not any(w.running for w in workers.values()):
            return True
        time.sleep(_WAIT_S)
