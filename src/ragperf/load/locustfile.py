"""The locustfile `ragperf load --engine locust` runs: `locust -f <this file> --ragperf-config CONFIG`.

Write your own by importing `RagperfUser` (and subclassing it to change its weight or pacing).
Under `ragperf load --engine locust` each Locust process asks here to die with ragperf, and each
worker sets the pipeline up as it imports this file, so it reports ready to the master only once
it can serve queries.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ragperf.errors import RagperfError
from ragperf.load.locust_run import PARENT, PREPARE
from ragperf.load.locust_user import RagperfUser, prepare
from ragperf.prctl import die_with_parent

__all__ = ["RagperfUser"]

if PARENT in os.environ and not die_with_parent(int(os.environ[PARENT])):
    os._exit(1)  # the ragperf that started this Locust process is already gone
if os.environ.get(PREPARE) == "1":
    try:
        prepare(Path(os.environ["RAGPERF_CONFIG"]), int(os.environ.get("RAGPERF_WARMUP", "3")))
    except RagperfError as exc:
        sys.stderr.write(f"ragperf: error: {exc}\n")
        sys.exit(int(exc.exit_code))
