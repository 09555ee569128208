"""Plugin discovery: built-ins found through entry points, and a name claimed twice refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ragperf import plugins
from ragperf.backends.registry import available_backends, load_backend
from ragperf.errors import BackendUnavailable, ConfigError


def _ep(name: str, value: str, dist: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, value=value, dist=SimpleNamespace(name=dist, version="1.0"))


def test_builtin_backends_come_through_the_entry_point_group():
    # GIVEN the installed ragperf WHEN backends are discovered THEN the built-ins are there, by name
    found = available_backends()
    assert {"timer", "pyinstrument", "memray", "scalene", "py-spy"} <= set(found)
    assert found["timer"].distribution == "ragperf"


def test_two_distributions_claiming_one_name_is_an_error_naming_both(monkeypatch):
    # GIVEN two packages registering a backend called "fast"
    eps = [_ep("fast", "pkg_a.mod:Fast", "pkg-a"), _ep("fast", "pkg_b.mod:Fast", "pkg-b")]
    monkeypatch.setattr(plugins, "entry_points", lambda **_: eps)
    # WHEN discovered THEN the error names both distributions
    with pytest.raises(ConfigError, match=r"'fast' is registered twice: by pkg-a .* and by pkg-b"):
        plugins.discover("ragperf.backends", "backend")


def test_the_same_registration_seen_twice_is_not_a_conflict(monkeypatch):
    # An editable install can list one distribution twice; that is one plugin, not two.
    eps = [_ep("fast", "pkg_a.mod:Fast", "pkg-a"), _ep("fast", "pkg_a.mod:Fast", "pkg-a")]
    monkeypatch.setattr(plugins, "entry_points", lambda **_: eps)
    assert list(plugins.discover("ragperf.backends", "backend")) == ["fast"]


def test_unknown_backend_is_exit_4_with_the_installed_list():
    with pytest.raises(BackendUnavailable, match=r"no backend named 'nosuch' \(installed: .*timer"):
        load_backend("nosuch")
