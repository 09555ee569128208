"""The `[report]` table of a config: roadmap priority thresholds, and the rules that give advice.

A config model, so it lives with the config (the measuring worker reads configs and must not
load the analysis to do so); the roadmap (`analysis/roadmap.py`) applies it.
"""

from __future__ import annotations

import importlib.resources
import re
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["PLACEHOLDER", "PLACEHOLDERS", "Priority", "ReportConfig", "Rule", "builtin_rules", "priority_for"]

Priority = Literal["P0", "P1", "P2"]
# What a rule's advice may name in braces, filled per stage; any other brace is the rule's own text.
PLACEHOLDERS = ("stage", "kind", "top_function", "top_share", "slowest_branch")
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    """One piece of advice and the stages it applies to."""

    id: str
    kinds: tuple[str, ...] = ("any",)
    character: Literal["any", "io", "cpu", "alloc", "threads", "unknown"] = "any"
    title: str
    advice: str
    effort: Literal["S", "M", "L"] = "M"
    quick_win: bool = False
    min_top_share: float = Field(default=0.0, ge=0, le=1, description="the top function's share must reach this")
    libraries: tuple[str, ...] = Field(
        default=(),
        description="applies only when the stage's hottest functions run in one of these packages (e.g. torch); "
        "a stage with no function-level profile still gets it",
    )
    unless_libraries: tuple[str, ...] = Field(default=(), description="never when its hottest run in one of these")

    @field_validator("advice")
    @classmethod
    def _known_placeholders(cls, advice: str) -> str:
        unknown = [name for name in PLACEHOLDER.findall(advice) if name not in PLACEHOLDERS]
        if unknown:
            valid = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            msg = f"unknown placeholder {{{unknown[0]}}}; the advice may use {valid}"
            raise ValueError(msg)
        return advice

    def applies(
        self, kind: str, characters: frozenset[str], top_share: float = 0.0, libraries: frozenset[str] | None = None
    ) -> bool:
        """True when the rule fits a stage of this kind and character, its top function's weight and the
        packages its hottest functions run in (`libraries`; None when the stage has no function-level profile)."""
        kind_ok = "any" in self.kinds or kind in self.kinds
        character_ok = self.character == "any" or self.character in characters
        seen = libraries is None or not self.libraries or bool(libraries & set(self.libraries))
        excluded = libraries is not None and bool(libraries & set(self.unless_libraries))
        return kind_ok and character_ok and top_share >= self.min_top_share and seen and not excluded


class ReportConfig(_Model):
    """The proposed `[report]` config table: priority thresholds, character thresholds, extra rules."""

    p0_fraction: float = Field(default=0.20, gt=0, le=1, description="P0 above this share of queries")
    p1_fraction: float = Field(default=0.10, gt=0, le=1, description="P1 from this share of queries")
    io_wait_share: float = Field(default=0.5, gt=0, le=1, description="I/O-bound when waits are this share")
    alloc_mb_per_query: float = Field(default=10.0, gt=0, description="allocation-heavy above this, per query")
    builtin_rules: bool = Field(default=True, description="false: use only the rules given here")
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> ReportConfig:
        if self.p1_fraction > self.p0_fraction:
            msg = "p1_fraction must not exceed p0_fraction"
            raise ValueError(msg)
        return self


def priority_for(fraction: float, config: ReportConfig) -> Priority:
    """The seed's priority for a share of queries, with configurable thresholds."""
    if fraction > config.p0_fraction:
        return "P0"
    return "P1" if fraction >= config.p1_fraction else "P2"


def builtin_rules() -> tuple[Rule, ...]:
    """The rules shipped in ragperf/data/roadmap_rules.toml."""
    text = importlib.resources.files("ragperf").joinpath("data/roadmap_rules.toml").read_text(encoding="utf-8")
    return tuple(Rule.model_validate(rule) for rule in tomllib.loads(text)["rule"])
