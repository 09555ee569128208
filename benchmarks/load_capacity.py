"""The load generator's capacity on a no-op pipeline, beside Locust alone driving the same no-op.

ragperf side: open loop, constant arrivals, per-stage timing on (the executor records every
span into per-worker histograms), N worker processes each drawing its own stream at R/N. The
offered rate steps up; a rate counts as held when at least 95% of its arrivals finished inside
the step and the schedule error p99 (how late an idle worker started a query) is under 1 ms.

Locust side, in the same run: a User whose task fires one request event per call and does
nothing else (closed loop, no wait), in one process and with `--processes N`.

Goal: ragperf's held rate at least Locust's events/s, with schedule error p99 under 1 ms.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from ragperf.config import Config
from ragperf.load.engine import LoadSession
from ragperf.load.results import merge_step
from ragperf.queries import Query
from ragperf.stages import stage_infos

NOOP_MODULE = "def noop(state):\n    return None\n"
LOCUSTFILE = textwrap.dedent(
    """
    from locust import User, constant, task

    class Noop(User):
        wait_time = constant(0)

        @task
        def call(self):
            self.environment.events.request.fire(
                request_type="noop", name="noop", response_time=0.0, response_length=0, exception=None, context={}
            )
    """
)


class _Quiet:
    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        pass

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        pass


def ragperf_capacity(rates: list[float], duration: float, workers: int, folder: Path) -> list[tuple[float, ...]]:
    """(offered, achieved, schedule p50 µs, schedule p99 µs, rate held, schedule held) per offered rate."""
    (folder / "noop_stage.py").write_text(NOOP_MODULE, encoding="utf-8")
    config = Config.model_validate({"stages": [{"name": "noop", "call": "noop_stage:noop"}], "targets": {}})
    infos = stage_infos(config)
    rows = []
    with LoadSession(config, folder, (Query("q0", "q"),), workers, 10, folder / "logs") as session:
        session.wait_ready()
        for index, rate in enumerate(rates):
            outcome = session.run_step(index, rate, duration, "constant", duration / 10, _Quiet())
            step = merge_step(
                outcome.parts,
                step=index,
                rate=rate,
                duration_s=duration,
                window_s=duration / 10,
                infos=infos,
                p95_target_ms=None,
                error_budget=0.0,
            )
            p50 = (step.schedule_p50_ms or 0.0) * 1000
            p99 = (step.schedule_p99_ms or 0.0) * 1000
            held = step.completed_in_time >= 0.95 * step.offered
            rows.append((rate, step.achieved_qps, p50, p99, float(held), float(p99 < 1000)))
            print(
                f"  ragperf offered {rate:>9,.0f}/s  achieved {step.achieved_qps:>9,.0f}/s  "
                f"{'held    ' if held else 'NOT held'}  schedule p50 {p50:6.1f} µs  p99 {p99:8.1f} µs  "
                f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
                flush=True,
            )
    return rows


def locust_rate(processes: int, duration: float, folder: Path) -> float | None:
    """Events per second Locust reaches with a no-op User (closed loop), or None without Locust."""
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    if not Path(locust).exists():
        return None
    locustfile = folder / "noop_locustfile.py"
    locustfile.write_text(LOCUSTFILE, encoding="utf-8")
    prefix = folder / f"locust{processes}"
    command = [locust, "-f", str(locustfile), "--headless", "-u", str(processes), "-r", str(processes)]
    command += ["-t", f"{duration:.0f}s", "--only-summary", "--csv", str(prefix), "--loglevel", "WARNING"]
    if processes > 1:
        command += ["--processes", str(processes)]
    subprocess.run(command, check=True, capture_output=True, cwd=folder, timeout=duration + 120)
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per rate step")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rates", default="25000,50000,100000,150000,200000,250000,300000")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"ragperf load engine, no-op stage, {args.workers} workers, open loop, per-stage timing on:")
        rows = ragperf_capacity(rates, args.duration, args.workers, folder)
        print("Locust alone, no-op User firing one request event per call (closed loop):")
        one = locust_rate(1, args.duration * 2, folder)
        many = locust_rate(args.workers, args.duration * 2, folder)
    best = max((row[0] for row in rows if row[4]), default=0.0)
    best_on_time = max((row[0] for row in rows if row[4] and row[5]), default=0.0)
    print(f"  locust 1 process:            {one or 0:>9,.0f} events/s")
    print(f"  locust --processes {args.workers}:      {many or 0:>9,.0f} events/s")
    print()
    print(f"{'':34}{'ragperf (open loop)':>22}{'locust (closed loop)':>24}")
    print(f"{'highest rate held':34}{best:>20,.0f}/s{max(one or 0, many or 0):>22,.0f}/s")
    print(f"{'  ... with schedule p99 < 1 ms':34}{best_on_time:>20,.0f}/s")
    target = max(one or 0, many or 0)
    print(f"goal, rate: at least Locust's: {'PASS' if best >= target else 'FAIL'}")
    print(f"goal, rate and schedule p99 < 1 ms: {'PASS' if best_on_time >= target else 'FAIL'}")
    print(
        f"(schedule error on a loaded machine is mostly the OS running other processes; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
