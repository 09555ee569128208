"""Number formatting shared by the text renderers."""

from __future__ import annotations

__all__ = ["fmt_ms", "fmt_pct"]

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
