"""The measuring worker stays below the analysis layer: it loads no `ragperf.analysis` module."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import ragperf.engine.worker
from ragperf.memory.session import MemorySession
from ragperf.memory.settings import LeakSettings

session = MemorySession(LeakSettings())
session._series = [(i << 20, i << 20) for i in range(10)]  # a growing leak series
grew = session._grew(0.01)
session.close()
print(json.dumps({"grew": grew, "analysis": sorted(m for m in sys.modules if m.startswith("ragperf.analysis"))}))
"""


def test_the_worker_and_its_leak_mode_load_no_analysis():
    # GIVEN a fresh interpreter WHEN the worker module loads and its leak mode fits a growing series
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN the series is seen growing, and no analysis module was imported for it
    assert found["grew"] is True
    assert found["analysis"] == []
