"""Run file section: this run is one side of a `ragperf compare`, measured in blocks interleaved with the other.

Each block is a contiguous range of this file's measured queries. Block `b` of the baseline and block
`b` of the new file ran the same queries one right after the other (`first_in_pair` says which went
first; the order is counterbalanced), so a diff of the two files pairs them by block and the machine's
drift over the run cancels.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CompareBlock", "CompareSide"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompareBlock(_Model):
    """One block of this side's measured queries."""

    block: int = Field(ge=0, description="the pair it belongs to: block b of each side ran the same queries")
    first: int = Field(ge=0, description="index of the block's first measured query in this file")
    n: int = Field(ge=0, description="queries measured in the block (fewer than asked when the compare stopped)")
    first_in_pair: bool = Field(description="this side ran its block before the other side's")


class CompareSide(_Model):
    """Which side of which compare this run is, and its blocks."""

    id: str = Field(description="the same in both files of one compare")
    side: Literal["baseline", "new"]
    block_size: int = Field(ge=1)
    other_config: str = Field(description="the other side's config file")
    blocks: tuple[CompareBlock, ...]
    cpus: tuple[int, ...] | None = Field(
        default=None, description="the CPUs both sides' workers were pinned to (null: not pinned)"
    )

    def block_of(self, n_queries: int) -> list[int]:
        """Each measured query's block number (-1 for a query outside every block)."""
        out = [-1] * n_queries
        for block in self.blocks:
            for index in range(block.first, min(block.first + block.n, n_queries)):
                out[index] = block.block
        return out
