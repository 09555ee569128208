"""Chat messages for the generation stage: numbered context passages, then the question."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf_demo.corpus import Passage

__all__ = ["build_messages"]

SYSTEM = (
    "You answer questions about the Python standard library using only the numbered context "
    "passages. Cite the passages you use as [n]. If the context does not answer the question, say so."
)
SYSTEM_OUT_OF_SCOPE = (
    "You are a Python standard library assistant. The question seems unrelated to Python; "
    "say briefly that you can only help with the Python standard library."
)


def build_messages(query: str, passages: Sequence[Passage], intent: str = "") -> list[dict[str, str]]:
    """System prompt (by intent) and a user turn holding the context blocks and the question."""
    system = SYSTEM_OUT_OF_SCOPE if intent == "out_of_scope" else SYSTEM
    context = "\n\n".join(f"[{i}] {p.title}\n{p.text}" for i, p in enumerate(passages, start=1))
    user = f"Context:\n{context}\n\nQuestion: {query}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
