"""The TOML config file: Pydantic models and a loader whose every error is one line with the fix."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ragperf.errors import ConfigError
from ragperf.report_rules import ReportConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic_core import ErrorDetails

__all__ = [
    "MAX_PIPELINE_NAME",
    "BackendConfig",
    "Config",
    "DiffConfig",
    "FrameworksConfig",
    "MemoryConfig",
    "PipelineConfig",
    "RunConfig",
    "StageConfig",
    "SubStageConfig",
    "Targets",
    "load_config",
]

StageKind = Literal["classification", "rewrite", "embedding", "retrieval", "rerank", "generation", "other"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_CALL = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_PIPELINE_NAME = 100  # the name goes into run-file names, which the file system bounds (255 bytes)
# A target is a finite limit above zero: NaN, an infinity or a negative one would judge everything PASS.
# Strict: TOML's `true` is no number of milliseconds (lax mode would read it as 1.0); integers still convert.
Limit = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        msg = "use letters, digits, '_' or '-', starting with a letter"
        raise ValueError(msg)
    return value


def _check_call(value: str) -> str:
    if not _CALL.match(value):
        msg = "expected an import path like 'package.module:function'"
        raise ValueError(msg)
    return value


class SubStageConfig(_Model):
    """One branch of a parallel stage."""

    name: str
    call: str
    target_ms: Limit | None = None
    enabled: bool = True

    _name = field_validator("name")(_check_name)
    _call = field_validator("call")(_check_call)


class StageConfig(_Model):
    """One pipeline stage: a callable, or a set of sub-stages run concurrently."""

    name: str
    call: str | None = None
    kind: StageKind = "other"
    target_ms: Limit | None = None
    enabled: bool = True
    parallel: tuple[SubStageConfig, ...] | None = None
    merge: str | None = None

    _name = field_validator("name")(_check_name)

    @field_validator("call", "merge")
    @classmethod
    def _calls(cls, value: str | None) -> str | None:
        return None if value is None else _check_call(value)

    @model_validator(mode="before")
    @classmethod
    def _no_branch_enabled(cls, data: Any) -> Any:
        # A fan-out whose every branch is switched off has nothing to run: it is a skipped stage.
        branches = data.get("parallel") if isinstance(data, dict) else None
        if isinstance(branches, list | tuple) and branches and all(_switched_off(b) for b in branches):
            return {**data, "enabled": False}
        return data

    @model_validator(mode="after")
    def _call_or_parallel(self) -> StageConfig:
        if (self.call is None) == (self.parallel is None):
            msg = "give either 'call' or 'parallel' (a list of sub-stages), not both"
            raise ValueError(msg)
        if self.parallel is not None and not self.parallel:
            msg = "'parallel' is empty; list at least one sub-stage, or set enabled = false"
            raise ValueError(msg)
        if self.merge is not None and self.parallel is None:
            msg = "'merge' only applies to a stage with 'parallel' sub-stages"
            raise ValueError(msg)
        names = [sub.name for sub in self.parallel or ()]
        if len(set(names)) != len(names) or (self.merge and "merge" in names):
            msg = "sub-stage names must be unique (and not 'merge' when a merge is set)"
            raise ValueError(msg)
        return self


def _switched_off(branch: object) -> bool:
    if isinstance(branch, SubStageConfig):
        return not branch.enabled
    return isinstance(branch, dict) and branch.get("enabled") is False


class PipelineConfig(_Model):
    """Where the pipeline's code and queries live."""

    name: str = "pipeline"
    setup: str | None = None
    teardown: str | None = None
    queries: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    # The whole pipeline as one framework object (a chain, a query engine, a Haystack pipeline):
    # a factory called once in setup; its one stage runs it on each query (ragperf.frameworks.app).
    app: str | None = None
    input: dict[str, dict[str, Any]] = Field(default_factory=dict)  # Haystack: component -> input -> value

    @model_validator(mode="after")
    def _app_or_setup(self) -> PipelineConfig:
        if self.app is not None and self.setup is not None:
            msg = "give either 'app' (a factory returning the framework object) or 'setup', not both"
            raise ValueError(msg)
        if self.input and self.app is None:
            msg = "'input' maps the query onto an 'app' pipeline's inputs; set 'app' too, or remove 'input'"
            raise ValueError(msg)
        return self

    @field_validator("name")
    @classmethod
    def _bounded(cls, name: str) -> str:
        if not name or len(name) > MAX_PIPELINE_NAME:
            msg = f"give a name of 1 to {MAX_PIPELINE_NAME} characters (got {len(name)}); run files are named after it"
            raise ValueError(msg)
        return name

    @field_validator("setup", "teardown", "app")
    @classmethod
    def _calls(cls, value: str | None) -> str | None:
        return None if value is None else _check_call(value)

    def app_stage_name(self) -> str:
        """The name of an `app` pipeline's one stage: the pipeline's, when it is set and fits a stage name."""
        if "name" in self.model_fields_set and _NAME.match(self.name):
            return self.name
        return "app"


class FrameworksConfig(_Model):
    """The framework adapters (LangChain, LlamaIndex, Haystack components as spans): on by default."""

    enabled: bool = True
    disable: tuple[str, ...] = ()

    @field_validator("disable")
    @classmethod
    def _known(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            return names
        from ragperf.frameworks.registry import available_frameworks

        known = available_frameworks()
        unknown = [name for name in names if name not in known]
        if unknown:
            msg = f"no framework adapter named '{unknown[0]}'; valid names: {', '.join(known) or 'none installed'}"
            raise ValueError(msg)
        return names


class RunConfig(_Model):
    """How many queries to run."""

    warmup: int = Field(default=3, ge=0)
    queries: int = Field(default=100, ge=1)
    # Phase limits: past them ragperf stops the worker, keeps what was measured, and says which ran out.
    setup_timeout_s: float = Field(default=600, gt=0)
    query_timeout_s: float | None = Field(default=None, gt=0)  # each warm-up and measured query; default none
    teardown_timeout_s: float = Field(default=60, gt=0)
    # Each stage's CPU time (its thread's) beside its wall time: about 1.5 µs a stage call, so opt-in.
    cpu_time: bool = False
    # The interpreter the worker runs with (relative to the config's folder), so `ragperf compare` can
    # measure another checkout's code against this one; None: the interpreter running ragperf.
    python: str | None = None


class Targets(_Model):
    """Pipeline-level targets; the defaults are the seed plan's."""

    p50_ms: Limit | None = 500
    p95_ms: Limit | None = 1000
    p99_ms: Limit | None = 1500
    peak_memory_mb: Limit | None = 512
    request_memory_mb: Limit | None = 512  # the rise of RSS within one query
    leak_mb_per_iter: Limit | None = 0.5
    sustained_qps: Limit | None = 50
    peak_qps: Limit | None = 100
    # p95 targets of any span path by its dotted path: a sub-stage, a framework component, a marked block.
    spans: dict[str, Limit] = Field(default_factory=dict)

    @field_validator("spans")
    @classmethod
    def _span_paths(cls, spans: dict[str, float]) -> dict[str, float]:
        for path in spans:
            if not path or any(not part for part in path.split(".")):
                msg = f"'{path}' is not a span path; write it dotted, as the report lists it (e.g. 'rag.retriever')"
                raise ValueError(msg)
        return spans


class MemoryConfig(_Model):
    """Memory per stage for `ragperf run` (also `--memory`), and the `ragperf leak` defaults."""

    enabled: bool = False
    iterations: int = Field(default=50, ge=5)  # leak iterations (one query each)
    snapshot_every: int = Field(default=3, ge=0)  # iterations between tracemalloc snapshots; 0: none
    frames: int = Field(default=40, ge=1)  # tracemalloc frames: enough to reach the stage trampoline
    min_leak_mb_per_iter: float = Field(default=0.01, gt=0)  # slower growth counts as noise, not a leak


class DiffConfig(_Model):
    """How `ragperf diff` judges runs made with this config (the new file's config is read)."""

    # None: ragperf's default floor (`ragperf.analysis.compare.DEFAULT_MIN_MS`), kept there with its reasons.
    min_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # a p50 change under this is no regression


class BackendConfig(_Model):
    """The default profiler backend and its options (the command line overrides both)."""

    name: str = "timer"
    options: dict[str, Any] = Field(default_factory=dict)


class Config(_Model):
    """A whole config file."""

    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    stages: tuple[StageConfig, ...] = ()
    targets: Targets = Field(default_factory=Targets)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    frameworks: FrameworksConfig = Field(default_factory=FrameworksConfig)
    diff: DiffConfig = Field(default_factory=DiffConfig)

    @property
    def all_stages(self) -> tuple[StageConfig, ...]:
        """The configured stages, or the one stage of an `app` pipeline."""
        app = self.pipeline.app
        if app is None:
            return self.stages
        return (StageConfig(name=self.pipeline.app_stage_name(), call=app),)

    @model_validator(mode="after")
    def _unique_stages(self) -> Config:
        if not self.stages and self.pipeline.app is None:
            msg = "stages: list at least one [[stages]] entry, or set [pipeline] app to a framework object's factory"
            raise ValueError(msg)
        if self.stages and self.pipeline.app is not None:
            msg = "[pipeline] app is the whole pipeline as one stage; remove it or the [[stages]] entries"
            raise ValueError(msg)
        names = [stage.name for stage in self.stages]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            msg = f"stage names must be unique; repeated: {', '.join(duplicates)}"
            raise ValueError(msg)
        return self

    def digest(self) -> str:
        """A short hash of the resolved config, so a diff can tell two setups apart."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_config(path: Path) -> Config:
    """Read and validate a config file; raise ConfigError with a one-line message on any problem."""
    if not path.is_file():
        hint = "pass the path of a ragperf TOML file (e.g. configs/demo.toml)"
        raise ConfigError(f"{path}: config file not found; {hint}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}; fix the line it names") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc})") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{path}: {_describe(errors[0])}{more}") from None


def _describe(error: ErrorDetails) -> str:
    """Turn one Pydantic error into 'key: problem; fix'."""
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
    key = _key(loc)
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        valid = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(valid)}"
        return f"{key}: unknown key; {fix}"
    if error["type"] == "missing":
        return f"{key}: required key is missing; add it"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return f"{key or 'file'}: {message}"
    return f"{key or 'file'}: {message} (got {error.get('input')!r})"


def _key(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: list[int | str]) -> type[BaseModel] | None:
    """The model class that validates the table at `loc` (for listing its valid keys)."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        nested = _model_in(field.annotation)
        if nested is None:
            return None
        model = nested
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
