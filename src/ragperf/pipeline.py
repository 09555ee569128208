"""Run one query through the configured stages, timing every stage and sub-stage.

Sync pipelines run as plain calls; a pipeline with any `async def` callable runs each query as
a coroutine on one event loop. Parallel sub-stages run on a thread pool (sync) or as tasks
(async). Every call goes through its stage's trampoline so profilers can attribute samples; a
fan-out's own waiting for its branches runs inside the parent stage's trampoline.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter_ns, thread_time_ns
from typing import TYPE_CHECKING, Any, Protocol

from ragperf.errors import PipelineFailed, RagperfError
from ragperf.resolve import resolve_callable
from ragperf.spans import OpenSpan, current_span
from ragperf.trampoline import make_trampoline

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from ragperf.config import Config
    from ragperf.spans import Recorder
    from ragperf.state import State

__all__ = ["Executor", "Plan", "StageFailed", "StageProbe", "Step", "build_plan"]


class StageProbe(Protocol):
    """Called at each query start and around each top-level stage when memory is measured (ragperf.memory)."""

    def begin_query(self) -> None:
        """A query is about to start."""

    def before(self, path: str) -> None:
        """The stage is about to start."""

    def after(self, path: str) -> None:
        """The stage has ended (also when it raised)."""


class StageFailed(Exception):
    """A stage raised; `path` names it and `__cause__` is the user's exception."""

    def __init__(self, path: str, error: BaseException) -> None:
        super().__init__(f"stage '{path}' raised {type(error).__name__}: {error}")
        self.path = path
        self.error = error


@dataclass(frozen=True, slots=True)
class Step:
    """A resolved stage: its callable and trampoline, or its concurrent sub-stages."""

    name: str
    path: str
    call: Callable[[Any], Any] | None
    trampoline: Callable[[Callable[[Any], Any], Any], Any] | None
    is_async: bool
    subs: tuple[Step, ...] = ()
    merge: Step | None = None
    async_trampoline: Callable[[Callable[[Any], Any], Any], Any] | None = None  # a fan-out on an event loop


@dataclass(frozen=True, slots=True)
class Plan:
    """The enabled steps in order, and the pipeline's setup and teardown."""

    steps: tuple[Step, ...]
    setup: Callable[..., Any] | None
    teardown: Callable[..., Any] | None

    @property
    def needs_loop(self) -> bool:
        """True when any callable is `async def`: queries then run on an event loop."""
        return any(_any_async(step) for step in self.steps) or any(
            fn is not None and inspect.iscoroutinefunction(fn) for fn in (self.setup, self.teardown)
        )

    @property
    def max_parallel(self) -> int:
        """The widest fan-out, which sizes the thread pool."""
        return max((len(step.subs) for step in self.steps), default=0)


def _any_async(step: Step) -> bool:
    return (
        step.is_async or any(_any_async(sub) for sub in step.subs) or (step.merge is not None and step.merge.is_async)
    )


def _step(name: str, path: str, target: str, key: str) -> Step:
    fn = resolve_callable(target, key=key)
    is_async = inspect.iscoroutinefunction(fn)
    return Step(name, path, fn, make_trampoline(path, is_async=is_async), is_async)


def build_plan(config: Config) -> Plan:
    """Import every callable the config names (raising ConfigError on the first bad one)."""
    pipeline = config.pipeline
    if pipeline.app is not None:
        return _app_plan(config, pipeline.app)
    steps = []
    for i, stage in enumerate(config.stages):
        key = f"stages[{i}]"
        if stage.call is not None:
            step = _step(stage.name, stage.name, stage.call, f"{key}.call")
        else:
            subs = tuple(
                _step(sub.name, f"{stage.name}.{sub.name}", sub.call, f"{key}.parallel[{j}].call")
                for j, sub in enumerate(stage.parallel or ())
                if sub.enabled
            )
            merge = None if stage.merge is None else _step("merge", f"{stage.name}.merge", stage.merge, f"{key}.merge")
            # The parent's trampolines frame the fan-out itself: its wait for the branches is its own time.
            step = Step(
                stage.name,
                stage.name,
                None,
                make_trampoline(stage.name, is_async=False),
                is_async=False,
                subs=subs,
                merge=merge,
                async_trampoline=make_trampoline(stage.name, is_async=True),
            )
        if stage.enabled:
            steps.append(step)
    setup = None if pipeline.setup is None else resolve_callable(pipeline.setup, key="pipeline.setup")
    teardown = None if pipeline.teardown is None else resolve_callable(pipeline.teardown, key="pipeline.teardown")
    return Plan(tuple(steps), setup, teardown)


def _app_plan(config: Config, target: str) -> Plan:
    """One stage running the framework object the app's factory makes in setup."""
    from ragperf.frameworks.app import AppStage

    pipeline = config.pipeline
    app = AppStage(resolve_callable(target, key="pipeline.app"), target, pipeline.input)
    name = pipeline.app_stage_name()
    teardown = None if pipeline.teardown is None else resolve_callable(pipeline.teardown, key="pipeline.teardown")
    step = Step(name, name, app, make_trampoline(name, is_async=False), is_async=False)
    return Plan((step,), app.setup, teardown)


def _close(recorder: Recorder, span: OpenSpan, start: int, error: BaseException | None) -> None:
    """Record a span that ended now (the slow path: failures and fan-outs)."""
    end = perf_counter_ns()
    text = None if error is None else f"{type(error).__name__}: {error}"
    recorder.spans.append((span.path or "", start - recorder.origin_ns, end - start, text, span.metrics))


def _run_sync(step: Step, state: State, recorder: Recorder, span: OpenSpan) -> Any:
    """Call one stage through its trampoline and record its span.

    The hot path of every stage call, kept flat: its cost is the timer backend's overhead
    (benchmarks/span_overhead.py). `span` is the caller's open span, reused: sequential stages
    share the query's one, so no ContextVar.set is paid per stage.
    """
    span.path, span.metrics = step.path, None
    start = perf_counter_ns()
    try:
        out = step.trampoline(step.call, state)  # type: ignore[misc,arg-type]
    except Exception as exc:
        _close(recorder, span, start, exc)
        raise StageFailed(step.path, exc) from exc
    end = perf_counter_ns()
    recorder.spans.append((step.path, start - recorder.origin_ns, end - start, None, span.metrics))
    return out


def _run_sync_cpu(step: Step, state: State, recorder: Recorder, span: OpenSpan) -> Any:
    """_run_sync that also records the stage's CPU time on its thread (cpu_time on: ~1.5 µs more a call)."""
    cpu = thread_time_ns()
    try:
        return _run_sync(step, state, recorder, span)
    finally:
        recorder.cpu.append((step.path, thread_time_ns() - cpu))  # type: ignore[union-attr]  # on: a list


def _run_branch(step: Step, state: State, recorder: Recorder) -> Any:
    """Run a sync stage with an open span of its own (concurrent branches, merges, async pipelines)."""
    span = OpenSpan(step.path)
    token = current_span.set(span)
    try:
        return (_run_sync if recorder.cpu is None else _run_sync_cpu)(step, state, recorder, span)
    finally:
        current_span.reset(token)


async def _run_async(step: Step, state: State, recorder: Recorder) -> Any:
    """The async counterpart of _run_sync; every awaited stage gets its own open span."""
    span = OpenSpan(step.path)
    token = current_span.set(span)
    start = perf_counter_ns()
    try:
        out = await step.trampoline(step.call, state)  # type: ignore[misc,arg-type]
    except Exception as exc:
        _close(recorder, span, start, exc)
        raise StageFailed(step.path, exc) from exc
    finally:
        current_span.reset(token)
    end = perf_counter_ns()
    recorder.spans.append((step.path, start - recorder.origin_ns, end - start, None, span.metrics))
    return out


def _first_failure(results: list[Any]) -> StageFailed | None:
    return next((r for r in results if isinstance(r, StageFailed)), None)


class Executor:
    """Runs queries through a plan; owns the thread pool and, for async pipelines, the loop."""

    def __init__(self, plan: Plan, recorder: Recorder, probe: StageProbe | None = None) -> None:
        self.plan = plan
        self.recorder = recorder
        self.probe = probe
        width = plan.max_parallel
        self._pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="ragperf-stage") if width else None
        self._runner = asyncio.Runner() if plan.needs_loop else None

    def close(self) -> None:
        """Shut the pool and the loop down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._runner is not None:
            self._runner.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call setup/teardown, awaiting it on the pipeline's loop when it is `async def`."""
        result = fn(*args)
        if inspect.isawaitable(result):
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(_await(result))
        return result

    def setup(self, options: Mapping[str, Any]) -> Any:
        """Call the pipeline's setup once, with the [pipeline.options] table if it takes an argument."""
        setup = self.plan.setup
        if setup is None:
            return None
        takes_options = bool(inspect.signature(setup).parameters)
        return self._hook(setup, "pipeline.setup", *((options,) if takes_options else ()))

    def teardown(self, ctx: Any) -> None:
        """Call the pipeline's teardown with the setup's result."""
        if self.plan.teardown is not None:
            self._hook(self.plan.teardown, "pipeline.teardown", ctx)

    def _hook(self, fn: Callable[..., Any], key: str, *args: Any) -> Any:
        try:
            return self.call(fn, *args)
        except RagperfError:  # ragperf's own one-line errors (an app factory's object no adapter runs)
            raise
        except Exception as exc:
            msg = f"{key} raised {type(exc).__name__}: {exc}"
            raise PipelineFailed(msg) from exc

    def run_query(self, state: State) -> None:
        """Run every enabled stage for one query; raise StageFailed on the first stage that raises."""
        if self._runner is not None:
            self._runner.run(self._query_async(state))
            return
        if self.probe is not None:
            self._query_probed(state, self.probe)
            return
        recorder, outputs = self.recorder, state.outputs
        run = _run_sync if recorder.cpu is None else _run_sync_cpu  # chosen once a query, not per stage
        span = OpenSpan(None)
        token = current_span.set(span)
        try:
            for step in self.plan.steps:
                if step.subs:
                    outputs[step.name] = self._parallel_sync(step, state)
                else:
                    outputs[step.name] = run(step, state, recorder, span)
        finally:
            current_span.reset(token)

    def _query_probed(self, state: State, probe: StageProbe) -> None:
        """run_query with the probe around each stage: a loop of its own, so the plain one pays nothing."""
        recorder, outputs = self.recorder, state.outputs
        run = _run_sync if recorder.cpu is None else _run_sync_cpu  # chosen once a query, not per stage
        span = OpenSpan(None)
        token = current_span.set(span)
        probe.begin_query()
        try:
            for step in self.plan.steps:
                probe.before(step.path)
                try:
                    if step.subs:
                        outputs[step.name] = self._parallel_sync(step, state)
                    else:
                        outputs[step.name] = run(step, state, recorder, span)
                finally:
                    probe.after(step.path)
        finally:
            current_span.reset(token)

    def _parallel_sync(self, step: Step, state: State) -> Any:
        recorder = self.recorder
        span = OpenSpan(step.path)
        token = current_span.set(span)
        start = perf_counter_ns()
        try:
            out = step.trampoline(functools.partial(self._fan_out_sync, step), state)  # type: ignore[misc]
        except StageFailed as failed:
            _close(recorder, span, start, failed.error)
            current_span.reset(token)
            raise
        _close(recorder, span, start, None)
        current_span.reset(token)
        return out

    def _fan_out_sync(self, step: Step, state: State) -> Any:
        recorder, pool = self.recorder, self._pool
        if pool is None:  # pragma: no cover - build_plan gives every fan-out a pool
            raise RuntimeError(step.path)
        futures = [pool.submit(contextvars.copy_context().run, _run_branch, sub, state, recorder) for sub in step.subs]
        results: list[Any] = []
        for future in futures:
            try:
                results.append(future.result())
            except StageFailed as failed:
                results.append(failed)
        out = self._gathered(step, state, results)
        if step.merge is not None:
            out = _run_branch(step.merge, state, recorder)
        return out

    async def _query_async(self, state: State) -> None:
        probe = self.probe
        if probe is not None:
            probe.begin_query()
        for step in self.plan.steps:
            if probe is not None:
                probe.before(step.path)
            try:
                if step.subs:
                    out = await self._parallel_async(step, state)
                elif step.is_async:
                    out = await _run_async(step, state, self.recorder)
                else:
                    out = _run_branch(step, state, self.recorder)
            finally:
                if probe is not None:
                    probe.after(step.path)
            state.outputs[step.name] = out

    async def _parallel_async(self, step: Step, state: State) -> Any:
        recorder = self.recorder
        span = OpenSpan(step.path)
        token = current_span.set(span)
        start = perf_counter_ns()
        try:
            out = await step.async_trampoline(functools.partial(self._fan_out_async, step), state)  # type: ignore[misc]
        except StageFailed as failed:
            _close(recorder, span, start, failed.error)
            current_span.reset(token)
            raise
        _close(recorder, span, start, None)
        current_span.reset(token)
        return out

    async def _fan_out_async(self, step: Step, state: State) -> Any:
        recorder, loop = self.recorder, asyncio.get_running_loop()
        waits: list[Awaitable[Any]] = [
            _run_async(sub, state, recorder)
            if sub.is_async
            else loop.run_in_executor(self._pool, contextvars.copy_context().run, _run_branch, sub, state, recorder)
            for sub in step.subs
        ]
        results = list(await asyncio.gather(*waits, return_exceptions=True))
        out = self._gathered(step, state, results)
        if step.merge is not None:
            merge = step.merge
            out = await _run_async(merge, state, recorder) if merge.is_async else _run_branch(merge, state, recorder)
        return out

    @staticmethod
    def _gathered(step: Step, state: State, results: list[Any]) -> dict[str, Any]:
        """Sub-stage outputs by name; re-raise the first failure (others still ran to the end)."""
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, StageFailed):
                raise result
        failure = _first_failure(results)
        if failure is not None:
            raise failure
        outputs = {sub.name: result for sub, result in zip(step.subs, results, strict=True)}
        state.outputs[step.name] = outputs
        return outputs


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
