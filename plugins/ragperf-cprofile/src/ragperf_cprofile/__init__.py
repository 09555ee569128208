"""ragperf-cprofile: a cProfile backend for ragperf, registered in the `ragperf.backends` group."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
