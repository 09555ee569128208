"""`ragperf validate`: check a config and import its callables without running a query."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ragperf.cli.common import locate_config, out_console, user_errors

__all__ = ["validate"]


@user_errors
def validate(
    config: Annotated[
        Path | None, typer.Argument(help="Pipeline config (TOML). Default: ./ragperf.toml, else the built-in demo.")
    ] = None,
) -> None:
    """Check the config file, the query set and every import path it names."""
    from rich.text import Text

    from ragperf.backends.registry import load_backend
    from ragperf.config import load_config
    from ragperf.pipeline import build_plan
    from ragperf.queries import load_queries, locate_queries

    config_path = locate_config(config)
    cfg = load_config(config_path)
    config_dir = config_path.parent.resolve()
    sys.path.insert(0, str(config_dir))  # as the worker does
    plan = build_plan(cfg)
    # The default backend and its options too: a typo there would otherwise wait for the first run.
    load_backend(cfg.backend.name, cfg.backend.options)
    n_queries = len(load_queries(locate_queries(cfg.pipeline.queries, config_dir))) if cfg.pipeline.queries else 0
    subs = sum(len(step.subs) for step in plan.steps)
    skipped = [s.name for s in cfg.all_stages if not s.enabled]
    note = f", skipped: {', '.join(skipped)}" if skipped else ""
    what = f" {config_path}: {len(plan.steps)} stages ({subs} parallel sub-stages{note}), {n_queries} queries"
    out_console.print(Text.assemble(("OK", "green"), what, "; every callable imports"), soft_wrap=True)
