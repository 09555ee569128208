"""`[pipeline] app`: the whole pipeline is one framework object, made once in setup and run as one stage."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ragperf.frameworks.registry import adapter_for

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ragperf.state import State

__all__ = ["AppStage"]


class AppStage:
    """The app's factory and, after setup, the stage that runs its object through the matching adapter."""

    def __init__(self, factory: Callable[..., Any], target: str, inputs: Mapping[str, Any]) -> None:
        self._factory = factory
        self._target = target
        self._inputs = inputs
        self._call: Callable[[State], Any] | None = None

    def setup(self, options: Mapping[str, Any]) -> Any:
        """Call the factory (with `[pipeline.options]` when it takes an argument); return its object as the context."""
        takes_options = bool(inspect.signature(self._factory).parameters)
        obj = self._factory(options) if takes_options else self._factory()
        self._call = adapter_for(obj, f"pipeline.app = '{self._target}'").as_stage(obj, self._inputs)
        return obj

    def __call__(self, state: State) -> Any:
        """Run the app's object on the query."""
        if self._call is None:  # pragma: no cover - the executor runs setup before any query
            msg = "the app stage ran before setup"
            raise RuntimeError(msg)
        return self._call(state)
