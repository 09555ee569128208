"""Parse `-O KEY=VALUE` backend options (the backend converts the values to its declared types)."""

from __future__ import annotations

from ragperf.errors import ConfigError

__all__ = ["parse_options"]


def parse_options(pairs: list[str]) -> dict[str, str]:
    """`["rate=250", "native=true"]` → `{"rate": "250", "native": "true"}`."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option '{pair}': expected KEY=VALUE, e.g. -O rate=250")
        options[key.strip().replace("-", "_")] = value.strip()
    return options
