"""`ragperf report`: render run, leak and load files as a terminal, Markdown, HTML or JSON report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragperf.cli.common import out_console, user_errors
from ragperf.errors import ConfigError, RagperfError
from ragperf.outputs import check_output

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from ragperf.renderers.base import Report
    from ragperf.report_rules import ReportConfig

__all__ = ["format_for", "load_report_config", "report", "write_report"]

_BY_SUFFIX = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json", ".txt": "terminal"}


@user_errors
def report(
    files: Annotated[
        list[Path],
        typer.Argument(help="Run file, plus leak/load files of the same pipeline (JSON).", show_default=False),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="terminal, md, html or json (default: from --output's suffix, else terminal)."
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="TOML file whose report table sets priority thresholds and adds rules."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Combine files of different pipelines anyway.")] = False,
) -> None:
    """Render run files as a report: executive summary, metrics, bottlenecks, hotspots, roadmap."""
    from ragperf.renderers.base import assemble
    from ragperf.renderers.registry import load_renderer
    from ragperf.schema.io import load_run

    if output is not None:
        output = check_output(output, what="report", inputs=files, special_ok=True)
    name = fmt or format_for(output)
    load_renderer(name)  # an unknown -f fails before any file is read
    config = load_report_config(rules) if rules is not None else None
    built = assemble([load_run(path) for path in files], config, force=force)
    written = write_report(built, name, output)
    if written is not None:
        out_console.print(f"Report ({name}): {written}")


def format_for(output: Path | None) -> str:
    """The format an output file's suffix asks for; terminal when there is no file or no suffix."""
    if output is None or not output.suffix:
        return "terminal"
    name = _BY_SUFFIX.get(output.suffix.lower())
    if name is None:
        from ragperf.renderers.registry import available_renderers

        suffixes = ", ".join(_BY_SUFFIX)
        formats = ", ".join(available_renderers())
        msg = f"{output}: '{output.suffix}' is not a report format; end the name in {suffixes}, or pass -f ({formats})"
        raise RagperfError(msg)
    return name


def write_report(built: Report, name: str, output: Path | None) -> Path | None:
    """Render with the named format: to the file if given, else to the terminal; return the file."""
    from ragperf.renderers.registry import load_renderer
    from ragperf.renderers.terminal import TerminalRenderer

    renderer = load_renderer(name)
    if output is None:
        if isinstance(renderer, TerminalRenderer):
            renderer.print(built, out_console)
        else:
            sys.stdout.write(renderer.render(built))
        return None
    import dataclasses

    from ragperf.schema.io import atomic_write_text

    # Links to the native profiler files are relative to the report's folder, so the folder can be shared.
    atomic_write_text(output, renderer.render(dataclasses.replace(built, base=output.parent)))
    return output


def load_report_config(path: Path) -> ReportConfig:
    """The [report] table of a TOML file (a ragperf config or a rules file of its own)."""
    from pydantic import ValidationError

    from ragperf.report_rules import ReportConfig

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: rules file not found; pass a TOML file with a [report] table") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc}); fix the line it names") from None
    table = data.get("report")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [report] table; add one (thresholds and [[report.rules]])")
    try:
        return ReportConfig.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: report.{where}: {first['msg'].removeprefix('Value error, ')}") from None
