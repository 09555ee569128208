"""User-facing errors: each carries its exit code and a one-line message that says the fix."""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "ExitCode",
    "PipelineFailed",
    "RagperfError",
    "RunFileError",
]

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0
    FAILED = 1  # a target failed or a regression was found (when asked to gate)
    USAGE = 2  # usage, config or input-file error
    PIPELINE = 3  # the pipeline raised
    BACKEND = 4  # backend unavailable
    HANGUP = 129  # 128 + SIGHUP: the terminal closed
    INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
    TERMINATED = 143  # 128 + SIGTERM: a CI runner, `timeout`, a container stop


class RagperfError(Exception):
    """A user mistake or an expected failure: the CLI prints the message, no traceback."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigError(RagperfError):
    """The config file, or an import path it names, is wrong."""


class RunFileError(RagperfError):
    """A results file is missing, corrupt, or of an unknown schema version."""


class BackendUnavailable(RagperfError):
    """The chosen profiler backend is not installed or not permitted here."""

    exit_code = ExitCode.BACKEND


class PipelineFailed(RagperfError):
    """The pipeline's setup or teardown raised, or the worker died."""

    exit_code = ExitCode.PIPELINE
