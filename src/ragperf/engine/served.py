"""A served worker's command loop (`ragperf compare`): measure the blocks the parent asks for, one at a time.

After setup and warm-up, with the backend on, a served worker reads one command a line on its stdin:
`block B START N` measures N queries, the query set's positions START, START + 1, ... (cycling), as
block B; `end` (or the end of stdin: the parent is gone or stopping) ends the measured phase. After each
block the worker flushes its query batch and emits `BlockDone`, so the parent sees every query of the
block before it asks the other worker for the next one. Everything else (signals, the stream, the
backend around all measured queries, teardown, `End`) is the worker's, as in an ordinary run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ragperf.engine.events import BlockDone

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import TextIO

    from ragperf.engine.stream import Stream

__all__ = ["END", "Block", "block_command", "served_positions"]

END = "end\n"


class Block(NamedTuple):
    """One block to measure: its number, the query set's position it starts at, and how many queries."""

    block: int
    start: int
    n: int


def block_command(block: Block) -> str:
    """The line that asks a served worker for this block."""
    return f"block {block.block} {block.start} {block.n}\n"


def _parse(line: str) -> Block | None:
    """The block a command line asks for; None for `end`, end of input, or anything else (a parent bug)."""
    parts = line.split()
    if len(parts) != 4 or parts[0] != "block":
        return None
    try:
        return Block(int(parts[1]), int(parts[2]), int(parts[3]))
    except ValueError:
        return None


def served_positions(commands: TextIO, stream: Stream, flush: Callable[[], None], n_queries: int) -> Iterator[int]:
    """The query-set position of each measured query, block by block as the parent asks for them.

    `flush` writes the batch of queries measured so far; it runs before each `BlockDone`.
    """
    measured = 0
    while True:
        block = _parse(commands.readline())
        if block is None:
            return
        for k in range(block.n):
            yield (block.start + k) % n_queries
        flush()
        stream.emit(BlockDone(block=block.block, first=measured, n=block.n))
        measured += block.n
