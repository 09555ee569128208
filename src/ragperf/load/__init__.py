"""Open-loop load testing: per-worker arrival streams, per-stage histograms merged at the end."""

from __future__ import annotations
