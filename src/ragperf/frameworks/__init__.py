"""Framework adapters: LangChain, LlamaIndex and Haystack components as nested spans, with no code from the user.

Each adapter hooks its framework's own instrumentation (LangChain callbacks, LlamaIndex span
handlers, a Haystack tracer), opens a span per component run under the ragperf stage that called
it, and frames the component's work method so profilers attribute its samples to that span.
`registry` finds the adapters (entry-point group `ragperf.frameworks`) and switches on those
whose framework the pipeline imported.
"""

from __future__ import annotations

from ragperf.frameworks.base import FrameworkAdapter

__all__ = ["FrameworkAdapter"]
