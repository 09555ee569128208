"""The locustfile `ragperf load --engine locust` runs: `locust -f <this file> --ragperf-config CONFIG`.

Write your own by importing `RagperfUser` (and subclassing it to change its weight or pacing).
"""

from __future__ import annotations

from ragperf.load.locust_user import RagperfUser

__all__ = ["RagperfUser"]
