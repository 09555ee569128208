"""Backend options from the command line: `-O KEY=VALUE`, the `--rate`/`--native` shortcuts, and the config.

Values stay strings here; the backend converts them to its declared types and refuses unknown keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ragperf.errors import ConfigError

if TYPE_CHECKING:
    from ragperf.config import Config

__all__ = ["NativeFlag", "OptionFlag", "RateFlag", "backend_options", "parse_options"]

OptionFlag = Annotated[list[str] | None, typer.Option("--option", "-O", help="Backend option KEY=VALUE (repeatable).")]
RateFlag = Annotated[
    int | None, typer.Option("--rate", min=1, help="Samples per second, for a sampling backend (-O rate=N).")
]
NativeFlag = Annotated[
    bool | None,
    typer.Option("--native/--no-native", help="Record C/C++ frames too (memray, py-spy; -O native=true)."),
]


def parse_options(pairs: list[str]) -> dict[str, str]:
    """`["rate=250", "native=true"]` → `{"rate": "250", "native": "true"}`."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option '{pair}': expected KEY=VALUE, e.g. -O rate=250")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def backend_options(
    config: Config, backend: str, pairs: list[str] | None, *, rate: int | None = None, native: bool | None = None
) -> dict[str, Any]:
    """The config's options (when it names this backend), overridden by the command line's."""
    options: dict[str, Any] = dict(config.backend.options) if backend == config.backend.name else {}
    options.update(parse_options(pairs or []))
    if rate is not None:
        options["rate"] = str(rate)
    if native is not None:
        options["native"] = str(native).lower()
    return options
