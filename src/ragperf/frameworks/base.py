"""The framework adapter interface: which framework, how its hooks go in and out, and its object as a stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ragperf.state import State

__all__ = ["FrameworkAdapter"]


class FrameworkAdapter:
    """Turns one framework's component runs into ragperf spans.

    `module` is the top-level module whose presence in `sys.modules` after the pipeline's setup
    means the pipeline uses the framework; `distribution` is what to install. Subclasses import
    their framework inside methods only, so discovering adapters imports no framework.
    """

    name: ClassVar[str]
    module: ClassVar[str]
    distribution: ClassVar[str]

    def install(self) -> None:
        """Register the hooks with the framework (the worker calls it once, after setup)."""
        raise NotImplementedError

    def uninstall(self) -> None:
        """Remove the hooks and the framing, leaving the framework as it was."""
        raise NotImplementedError

    def owns(self, obj: object) -> bool:
        """True when `obj` is an object of this framework (its class or a base comes from `module`)."""
        prefix = self.module + "."
        return any(cls.__module__ == self.module or cls.__module__.startswith(prefix) for cls in type(obj).__mro__)

    def as_stage(self, obj: Any, inputs: Mapping[str, Any]) -> Callable[[State], Any]:
        """A stage callable running `obj` (a chain, a query engine, a pipeline) on `state.query`.

        `inputs` is the `[pipeline.input]` table, for frameworks whose object takes several inputs.
        """
        raise NotImplementedError
