"""The locustfile `ragperf load --engine locust` runs: `locust -f <this file> --ragperf-config CONFIG`.

Write your own by importing `RagperfUser` (and subclassing it to change its weight or pacing).
Under `ragperf load --engine locust` each worker sets the pipeline up here, as it imports this
file, so it reports ready to the master only once it can serve queries.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ragperf.errors import RagperfError
from ragperf.load.locust_run import PREPARE
from ragperf.load.locust_user import RagperfUser, prepare

__all__ = ["RagperfUser"]

if os.environ.get(PREPARE) == "1":
    try:
        prepare(Path(os.environ["RAGPERF_CONFIG"]), int(os.environ.get("RAGPERF_WARMUP", "3")))
    except RagperfError as exc:
        sys.stderr.write(f"ragperf: error: {exc}\n")
        sys.exit(int(exc.exit_code))
