"""The `ragperf` command: a Typer app with one module per subcommand."""

from __future__ import annotations

from typing import Annotated

import typer

import ragperf
from ragperf.cli.backends import backends
from ragperf.cli.diff import diff
from ragperf.cli.leak import leak
from ragperf.cli.load import load
from ragperf.cli.profile import profile
from ragperf.cli.report import report
from ragperf.cli.run import run
from ragperf.cli.validate import validate

__all__ = ["app", "main"]

app = typer.Typer(
    name="ragperf",
    help="Where a RAG pipeline's time and memory go, stage by stage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help text is shown as written: rich markup would eat '[memory]' and friends.
    rich_markup_mode=None,
)
app.command()(run)
app.command()(validate)
app.command()(backends)
app.command()(diff)
app.command()(leak)
app.command()(load)
app.command()(report)
app.command()(profile)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ragperf {ragperf.__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Where a RAG pipeline's time and memory go, stage by stage."""


def main() -> None:
    """Console-script entry point."""
    app()
