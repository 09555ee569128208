"""The distributions a pipeline imported, with their versions: what a run's numbers depend on.

The worker notes the top-level modules loaded before the pipeline's code, and after its setup
and warm-up lists the distributions that provide each module loaded since (frameworks, vector
stores, model libraries, and what they pull in). Standard-library modules belong to no
distribution and are left out.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, version

__all__ = ["imported_distributions", "loaded_modules"]


def loaded_modules() -> frozenset[str]:
    """The top-level module names loaded in this process now."""
    return frozenset(name.partition(".")[0] for name in list(sys.modules))


def imported_distributions(before: frozenset[str]) -> dict[str, str]:
    """Distribution → version for every top-level module loaded since `before`, sorted by name."""
    providers = packages_distributions()
    found: dict[str, str] = {}
    for module in loaded_modules() - before:
        for dist in providers.get(module, ()):
            if dist in found:
                continue
            try:
                found[dist] = version(dist)
            except PackageNotFoundError:  # metadata without a version: an odd install, not worth a failure
                continue
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))
