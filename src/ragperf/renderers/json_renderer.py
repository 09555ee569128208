"""The JSON layout: the report's content (its tables as text), the executive checks, the roadmap, the run files."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.compose import compose, executive_rows
from ragperf.renderers.content import Card, Para, Sub, Table, plain

if TYPE_CHECKING:
    from ragperf.analysis.roadmap import LeakItem, Roadmap, RoadmapItem
    from ragperf.renderers.content import Block, Document
    from ragperf.schema.diff import DiffReport

__all__ = ["REPORT_VERSION", "JsonRenderer", "content_dict", "render_diff_json", "report_dict"]

# The shape of this document; bump when a field changes meaning or goes away.
REPORT_VERSION = 2  # 2: "sections", the content every format lays out


class JsonRenderer(Renderer):
    """The report as one JSON document, for other tools."""

    name = "json"
    description = "JSON: the run files with the executive checks and the roadmap"
    extension = ".json"

    def render(self, report: Report) -> str:
        """The report as indented JSON."""
        return json.dumps(report_dict(report), indent=1, ensure_ascii=False) + "\n"


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain data (also what the HTML template receives)."""
    return {
        "report_version": REPORT_VERSION,
        "pipeline": report.title,
        "executive_summary": [
            {"check": c, "target": t, "measured": m, "verdict": v} for c, t, m, v in executive_rows(report)
        ],
        "sections": content_dict(compose(report)),
        "roadmap": None if report.roadmap is None else _roadmap(report.roadmap),
        "files": {
            name: f.model_dump(mode="json")
            for name, f in (
                ("run", report.run),
                ("memory_run", report.memory_run),
                ("leak", report.leak),
                ("load", report.load),
            )
            if f is not None
        },
    }


def _roadmap(roadmap: Roadmap) -> dict[str, Any]:
    return {
        "config": roadmap.config.model_dump(mode="json"),
        "items": [_item(item) for item in roadmap.items],
        "leak": None if roadmap.leak is None else _leak(roadmap.leak),
        "quick_wins": [
            {"stage": item.stage, "priority": item.priority, "rule": rule.id, "title": rule.title, "advice": text}
            for item, rule, text in roadmap.quick_wins
        ],
    }


def _item(item: RoadmapItem) -> dict[str, Any]:
    e = item.evidence
    return {
        "stage": item.stage,
        "kind": item.kind,
        "priority": item.priority,
        "depth": item.depth,
        "evidence": {
            "share": e.share,
            "queries": e.queries,
            "bottleneck_queries": e.bottleneck_queries,
            "over_target_queries": e.over_target_queries,
            "affected_queries": e.affected_queries,
            "fraction": e.fraction,
            "p95_ms": e.p95,
            "target_ms": e.target_ms,
            "verdict": e.verdict,
            "characters": sorted(e.characters),
            "waiting_share": e.waiting_share,
            "hotspots": [h.model_dump(mode="json") for h in e.hotspots],
            "slowest_branch": e.slowest_branch,
            "slowest_branch_share": e.slowest_branch_share,
            "parent": e.parent,
            "parent_share": e.parent_share,
        },
        "advice": [
            {"rule": rule.id, "title": rule.title, "effort": rule.effort, "quick_win": rule.quick_win, "text": text}
            for rule, text in item.advice
        ],
    }


def _leak(item: LeakItem) -> dict[str, Any]:
    return {
        "stage": item.stage,
        "priority": item.priority,
        "slope_mb_per_iter": item.slope,
        "ci": item.ci,
        "target": item.target,
        "verdict": item.verdict,
        "message": item.message,
        "site": item.site,
        "advice": [{"rule": rule.id, "title": rule.title, "text": text} for rule, text in item.advice],
    }


def content_dict(doc: Document) -> list[dict[str, Any]]:
    """A document's sections as plain data: sentences, tables (cells as text) and roadmap cards; charts left out."""
    return [{"id": s.id, "title": s.title, "blocks": [b for b in map(_block, s.blocks) if b]} for s in doc.sections]


def _block(block: Block) -> dict[str, Any] | None:
    if isinstance(block, Para):
        return {"text": plain(block.text), "role": block.role}
    if isinstance(block, Table):
        return {
            "table": block.title,
            "columns": [c.name for c in block.columns],
            "rows": [[plain(cell) for cell in row.cells] for row in block.rows],
        }
    if isinstance(block, Card):
        return {
            "priority": block.priority,
            "title": plain(block.title),
            "facts": [plain(f) for f in block.facts],
            "advice": [plain(a) for a in block.advice],
        }
    if isinstance(block, Sub):
        return {"title": block.title, "blocks": [b for b in map(_block, block.blocks) if b]}
    return None


def render_diff_json(report: DiffReport) -> str:
    """A diff as JSON: the `DiffReport` model itself, versioned; a statistic that could not be estimated is null."""
    return report.model_dump_json(indent=1) + "\n"
