"""What every command shares: locating the config, and turning user errors into one line and an exit code."""

from __future__ import annotations

import functools
import importlib.resources
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ragperf.errors import ConfigError, RagperfError
from ragperf.interrupts import exit_code_for, signal_name, stops_raise
from ragperf.renderers.console import make_console

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["err_console", "locate_config", "out_console", "user_errors"]

F = TypeVar("F", bound="Callable[..., Any]")

DEFAULT_CONFIG_NAME = "ragperf.toml"


# rich's console is imported here, not deferred: Typer's own help is drawn with rich anyway.
out_console = make_console()
err_console = make_console(stderr=True)


def user_errors(fn: F) -> F:
    """Print a RagperfError as one line on stderr and exit with its code; let bugs raise."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with stops_raise():
                return fn(*args, **kwargs)
        except RagperfError as exc:
            from rich.text import Text

            err_console.print(Text.assemble(("ragperf: error:", "bold red"), f" {exc}"), soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:
            # Anything measured was already written by the command's own interrupt path.
            err_console.print(f"ragperf: interrupted ({signal_name(getattr(exc, 'signum', 2))})", soft_wrap=True)
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper  # type: ignore[return-value]


def demo_config() -> Path | None:
    """The built-in demo's config, when the demo package is installed."""
    try:
        path = Path(str(importlib.resources.files("ragperf_demo").joinpath("demo.toml")))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def locate_config(given: Path | None) -> Path:
    """The config to use: the one given, else ./ragperf.toml, else the built-in demo."""
    if given is not None:
        return given
    local = Path(DEFAULT_CONFIG_NAME)
    if local.is_file():
        return local
    demo = demo_config()
    if demo is not None:
        err_console.print(f"No {DEFAULT_CONFIG_NAME} here: using the built-in demo pipeline ({demo}).")
        return demo
    msg = f"no {DEFAULT_CONFIG_NAME} in {Path.cwd()}; pass a config path, e.g. 'ragperf run configs/demo.toml'"
    raise ConfigError(msg)


def is_interactive() -> bool:
    """True when stderr is a terminal (progress bars only then, unless forced)."""
    return sys.stderr.isatty()
