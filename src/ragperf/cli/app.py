"""The `ragperf` command: a Typer app with one module per subcommand."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

import ragperf
from ragperf.cli.backends import backends
from ragperf.cli.common import err_console
from ragperf.cli.compare import compare
from ragperf.cli.diff import diff
from ragperf.cli.leak import leak
from ragperf.cli.load import load
from ragperf.cli.profile import profile
from ragperf.cli.report import report
from ragperf.cli.run import run
from ragperf.cli.validate import validate
from ragperf.errors import ExitCode
from ragperf.interrupts import exit_code_for

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
app.command()(compare)
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
    """Console-script entry point: every way out is an exit code and at most one line on stderr."""
    try:
        code = app(standalone_mode=False)
    except _CLICK.UsageError as exc:
        no_args: Any = getattr(_CLICK, "NoArgsIsHelpError", ())
        if isinstance(exc, no_args):
            exc.show()  # `ragperf` alone: the help text, as before
        else:
            _usage_line(exc)
        code = int(exc.exit_code)
    except _CLICK.ClickException as exc:
        exc.show()
        code = int(exc.exit_code)
    except typer.Abort:
        code = ExitCode.INTERRUPTED
    except KeyboardInterrupt as exc:
        # A stop signal after the command finished its own interrupt handling (Ctrl-C pressed twice):
        # everything is written; exit as interrupted, without a traceback.
        code = exit_code_for(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _click_exceptions() -> Any:
    """Click's exceptions: from the copy of click newer Typers vendor (typer._click), else from click."""
    import typer.core

    vendored = getattr(typer.core, "_click", None)
    if vendored is not None:
        return vendored.exceptions
    import click.exceptions

    return click.exceptions


_CLICK: Any = _click_exceptions()


def _usage_line(exc: Any) -> None:
    """A bad option as one line with where to look, instead of a usage box."""
    message = "; ".join(line.strip().rstrip(".") for line in exc.format_message().splitlines() if line.strip())
    command = exc.ctx.command_path if exc.ctx is not None else "ragperf"
    from rich.text import Text

    err_console.print(Text(f"ragperf: error: {message}; see '{command} --help'"), soft_wrap=True)
