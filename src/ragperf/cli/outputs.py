"""The file a report or diff goes to: checked before anything is rendered, written without surprises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.errors import RagperfError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["check_output", "write_output"]


def check_output(output: Path, inputs: Sequence[Path] = ()) -> None:
    """Refuse, in one line, an output that is a folder, lies under a file, or is one of the input files."""
    if output.is_dir():
        raise RagperfError(f"'{output}' is a folder; give the name of a file to write (e.g. report.md)")
    parent = next((p for p in output.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise RagperfError(f"{output}: {parent} is a file, not a folder; choose another path")
    if output.exists():
        same = next((source for source in inputs if source.exists() and output.samefile(source)), None)
        if same is not None:
            raise RagperfError(f"{output} is the input file {same}; write to another file so the input is kept")


def write_output(output: Path, text: str) -> None:
    """Replace a regular file atomically (through a symlink, keeping it); write into a device or pipe as it is."""
    from ragperf.schema.io import atomic_write_text

    try:
        if output.exists() and not output.is_file():
            # /dev/stdout, a FIFO, a terminal: replacing it with a file would break what reads it.
            with output.open("w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            atomic_write_text(output.resolve() if output.is_symlink() else output, text)
    except OSError as exc:
        raise RagperfError(f"{output}: cannot write it ({exc.strerror}); choose another path") from None
