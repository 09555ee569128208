"""Developer sessions: tests, lint (ruff + mypy), bench, plugins, demo."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
ROOT = Path(__file__).parent


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (unit and integration), as CI runs it."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: overhead and validation figures, as ratios measured in one run."""
    session.install("-e", ".[dev]")
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def plugins(session: nox.Session) -> None:
    """Install each example plugin under plugins/ and run its own tests."""
    session.install("-e", ".[dev]")
    for plugin in sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()):
        session.install("-e", str(plugin))
        session.run("python", "-m", "pytest", str(plugin / "tests"))


@nox.session
def demo(session: nox.Session) -> None:
    """Run ragperf on the built-in demo pipeline."""
    session.install("-e", ".[demo]")
    session.run("ragperf", "run", "configs/demo.toml", *session.posargs)
