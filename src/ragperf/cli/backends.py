"""`ragperf backends [NAME]`: what is installed, whether it can run here, and its options."""

from __future__ import annotations

import inspect
import sys
from typing import Annotated

import typer

from ragperf.cli.common import out_console, user_errors
from ragperf.errors import RagperfError

__all__ = ["backends"]


@user_errors
def backends(
    name: Annotated[str | None, typer.Argument(help="Show one backend's options.")] = None,
) -> None:
    """List the profiler backends registered in the 'ragperf.backends' entry-point group.

    Give a NAME to see how that backend works and its options. Options are set with
    'ragperf run -b NAME -O KEY=VALUE' (e.g. -O rate=500, -O native=true,
    -O trace_python_allocators=true, -O cpu_only=true), or in the config under
    [backend] name = "NAME" and [backend.options].
    """
    from rich.table import Table
    from rich.text import Text

    from ragperf.backends.registry import UnknownBackend, available_backends, load_backend

    if name is not None:
        try:
            backend, entry = load_backend(name)
        except UnknownBackend as exc:
            # Asking about a name that does not exist is a usage error here, not a backend that cannot run.
            raise RagperfError(str(exc)) from None
        out_console.print(
            Text.assemble((backend.name, "bold"), f" ({entry.distribution} {entry.version}): {backend.summary}")
        )
        out_console.print(f"runs: {'inside the worker' if backend.placement == 'worker' else 'wrapping the worker'}")
        about = inspect.getdoc(sys.modules[type(backend).__module__])
        for paragraph in (about or "").split("\n\n"):
            out_console.print(" ".join(paragraph.split("\n")))
        options_in = f"options (ragperf run -b {backend.name} -O KEY=VALUE, or [backend.options] in the config):"
        out_console.print(options_in)
        for key, spec in backend.options_spec.items():
            out_console.print(f"  -O {key}=<{spec.type.__name__}>  (default {spec.default!r}) {spec.help}")
        if not backend.options_spec:
            out_console.print("  no options")
        return
    table = Table(title="ragperf backends")
    for column in ("name", "from", "runs", "usable here", "what it measures"):
        table.add_column(column)
    for entry in available_backends().values():
        try:
            backend, _ = load_backend(entry.name)
            backend.check_available()
        except RagperfError as exc:
            table.add_row(
                entry.name, f"{entry.distribution} {entry.version}", "", Text.assemble(("no", "red"), f": {exc}"), ""
            )
            continue
        usable, summary, placement = Text("yes", style="green"), backend.summary, backend.placement
        table.add_row(entry.name, f"{entry.distribution} {entry.version}", placement, usable, summary)
    out_console.print(table)
