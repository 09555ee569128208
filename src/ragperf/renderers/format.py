"""Number formatting shared by the text renderers."""

from __future__ import annotations

from ragperf.units import to_mb

__all__ = ["fmt_amount", "fmt_mb", "fmt_ms", "fmt_pct", "fmt_rate", "short_path"]

_SMALL = 10
_MEDIUM = 100


def fmt_ms(value: float | None) -> str:
    """Milliseconds with as many decimals as make sense for their size."""
    if value is None:
        return "-"
    if value < _SMALL:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < _MEDIUM else f"{value:.0f}"


def fmt_pct(fraction: float | None) -> str:
    """A fraction as a percentage."""
    return "-" if fraction is None else f"{fraction * 100:.1f}%"


def fmt_mb(value: float | None, *, signed: bool = False) -> str:
    """Megabytes (MB = MiB, 2**20 bytes, everywhere in ragperf), with a sign for changes."""
    if value is None:
        return "-"
    return f"{value:+.2f} MB" if signed else f"{value:.1f} MB"


def fmt_amount(value: float, unit: str) -> str:
    """A hotspot's cost in its unit: milliseconds, or bytes shown as MB."""
    return f"{fmt_ms(value)} ms" if unit == "ms" else fmt_mb(to_mb(value))


def fmt_rate(value: float | None) -> str:
    """Queries per second: one decimal below 100."""
    if value is None:
        return "-"
    return f"{value:.1f}" if value < _MEDIUM else f"{value:.0f}"


def short_path(path: str, keep: int = 3) -> str:
    """The last `keep` parts of a file path: enough to find the file, short enough for a table."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-keep:]) if len(parts) > keep else path
