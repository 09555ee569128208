"""Import user callables named `package.module:attr`, with one-line errors that name the config key."""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

from ragperf.errors import ConfigError, PipelineFailed

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["resolve_callable"]


def resolve_callable(target: str, *, key: str) -> Callable[..., Any]:
    """Import `module:attr` and check it is callable; `key` names the config entry in errors."""
    module_name, _, attr_path = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(_missing_module(exc, module_name, target, key)) from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        msg = f"{key} = '{target}': importing '{module_name}' raised {type(exc).__name__}: {exc}"
        raise PipelineFailed(msg) from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            names = [name for name in dir(obj) if not name.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            fix = f"did you mean '{close[0]}'?" if close else "check the name after ':'"
            raise ConfigError(f"{key} = '{target}': '{module_name}' has no attribute '{part}'; {fix}")
        obj = getattr(obj, part)
    if not callable(obj):
        kind = type(obj).__name__
        raise ConfigError(f"{key} = '{target}': that is a {kind}, not a function; name a callable")
    return obj  # type: ignore[no-any-return]


def _missing_module(exc: ModuleNotFoundError, module_name: str, target: str, key: str) -> str:
    missing = exc.name or module_name
    if module_name == missing or module_name.startswith(f"{missing}."):
        fix = "check the spelling, install it, or put it beside the config file"
        return f"{key} = '{target}': module '{missing}' not found; {fix}"
    # The module exists but needs a package that is not installed.
    top = missing.split(".")[0]
    extra = "pip install 'ragperf[demo]'" if module_name.startswith("ragperf_demo") else f"pip install {top}"
    return f"{key} = '{target}': '{module_name}' needs module '{missing}', which is not installed; {extra}"
