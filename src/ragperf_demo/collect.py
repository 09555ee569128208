"""Collect the standard library's docstrings; run as a script in a sandboxed subprocess.

Run with ``python -I -S collect.py OUT.json`` (see `ragperf_demo.corpus`): importing the
standard library has side effects (modules print, write caches, open windows, start threads),
so this script imports nothing from ragperf_demo or site-packages, skips the modules known to
misbehave, swallows every exception, and writes its result to a file rather than stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import sys
import sysconfig
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

# Top-level modules never imported: GUI/browser/printing side effects, tests, installers,
# Windows-only, or content that is not the stdlib's own (distutils is swapped by setuptools).
SKIP_TOP = frozenset(
    {
        "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test",
        "lib2to3", "ensurepip", "pydoc_data", "msilib", "winreg", "winsound", "msvcrt",
        "nt", "distutils", "__hello__", "__phello__", "xxsubtype", "xxlimited",
        "xxlimited_35", "sre_compile", "sre_constants", "sre_parse", "readline",
        "rlcompleter", "site", "sitecustomize", "usercustomize", "encodings", "ntpath", "genericpath",
        "nturl2path",
    }
)  # fmt: skip
# Any dotted component with one of these names is skipped (test suites, script entry points).
SKIP_PART = frozenset({"test", "tests", "idle_test", "__main__"})
# C/platform back ends whose objects users know under another name (posix.listdir is os.listdir).
BACKEND_MODULES = frozenset({"posix", "posixpath", "genericpath"})
# Names users import that the package walk cannot see (os is a module, not a package).
EXTRA_MODULES = ("os.path",)
MIN_WORDS = 3
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def _is_backend(name: str) -> bool:
    return _is_private(name) or name in BACKEND_MODULES


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])})


def _in_stdlib(module: ModuleType, dirs: tuple[str, ...]) -> bool:
    path = getattr(module, "__file__", None)
    if path is None:  # built-in or frozen
        return True
    real = os.path.realpath(path)
    return any(real.startswith(d + os.sep) for d in dirs) and "site-packages" not in real


def _import(name: str) -> ModuleType | None:
    # Swallow prints, warnings and every error a module may raise while importing.
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - SystemExit and friends included on purpose
        return None


def _submodule_names(module: ModuleType) -> list[str]:
    path = getattr(module, "__path__", None)
    if path is None:
        return []
    names = []
    for info in pkgutil.iter_modules(path, module.__name__ + "."):
        if not _is_private(info.name) and not SKIP_PART.intersection(info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def module_names() -> list[str]:
    """All public stdlib module names that import cleanly, sorted."""
    dirs = _stdlib_dirs()
    top = [n for n in sys.stdlib_module_names if n not in SKIP_TOP and not n.startswith("_")]
    pending = sorted([*top, *EXTRA_MODULES])
    found: list[str] = []
    while pending:
        name = pending.pop(0)
        module = _import(name)
        if module is None or not _in_stdlib(module, dirs):
            continue
        found.append(name)
        pending = sorted(pending + _submodule_names(module))
    return found


def _doc(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return ""
    return inspect.cleandoc(doc).strip()


def _default(value: Any) -> str:
    # Only literal-ish defaults: other reprs can embed addresses or environment contents.
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str) and len(value) <= 12:
        return repr(value)
    return "..."


def _signature(obj: Any) -> str:
    try:
        sig = inspect.signature(obj)
    except Exception:  # noqa: BLE001 - C objects raise all sorts here
        return ""
    parts = []
    seen_kwonly = False
    for index, param in enumerate(sig.parameters.values()):
        if index == 0 and param.name in ("self", "cls"):
            continue  # the bound receiver is noise in a title
        kind = param.kind
        if kind is param.KEYWORD_ONLY and not seen_kwonly:
            parts.append("*")
            seen_kwonly = True
        prefix = "*" if kind is param.VAR_POSITIONAL else "**" if kind is param.VAR_KEYWORD else ""
        if kind is param.VAR_POSITIONAL:
            seen_kwonly = True
        text = prefix + param.name
        if param.default is not param.empty:
            text += "=" + _default(param.default)
        parts.append(text)
    return _ADDRESS.sub("", "(" + ", ".join(parts) + ")")


def _public_names(module: ModuleType) -> list[str]:
    # __all__ too: some packages (concurrent.futures) import exported names lazily.
    names = set(vars(module))
    exported = getattr(module, "__all__", None)
    if isinstance(exported, (list, tuple)):
        names.update(n for n in exported if isinstance(n, str))
    return sorted(n for n in names if not n.startswith("_"))


def _member(module: ModuleType, attr: str) -> Any:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return getattr(module, attr, None)
    except Exception:  # noqa: BLE001 - lazy attributes may fail to import
        return None


def _eligible(module: ModuleType, attr: str, obj: Any) -> bool:
    """Whether `module` may document `obj`: it defines it, or exports it from a private or inner module."""
    name = module.__name__
    owner = getattr(obj, "__module__", None)
    if name in ("builtins", owner):
        return True
    if not isinstance(owner, str) or not (_is_backend(owner) or owner.startswith(name + ".")):
        return False
    exported = getattr(module, "__all__", None)
    return attr in exported if isinstance(exported, (list, tuple)) else True


def canonical_names(modules: dict[str, ModuleType]) -> dict[int, tuple[str, str]]:
    """id(object) -> (module, attribute) under which users know it: builtins first, then shortest path.

    `asyncio.run` rather than `asyncio.runners.run`, `threading.Lock` rather than
    `multiprocessing.dummy.Lock`, `open` in builtins rather than `io.open`.
    """
    best: dict[int, tuple[tuple[int, int, int, str, str], tuple[str, str]]] = {}
    for name, module in modules.items():
        if name in BACKEND_MODULES:
            continue
        for attr in _public_names(module):
            obj = _member(module, attr)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not _eligible(module, attr, obj):
                continue
            rank = (0 if name == "builtins" else 1, name.count("."), len(name), name, attr)
            current = best.get(id(obj))
            if current is None or rank < current[0]:
                best[id(obj)] = (rank, (name, attr))
    return {key: where for key, (_, where) in best.items()}


def _entity(name: str, kind: str, module: str, obj: Any, doc: str, **extra: Any) -> dict[str, Any]:
    sig = _signature(obj) if kind in ("function", "method", "class") else ""
    return {"name": name, "kind": kind, "module": module, "signature": sig, "doc": doc, **extra}


def _class_entities(modname: str, qual: str, cls: type) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    bases = [f"{b.__module__}.{b.__qualname__}" for b in cls.__bases__ if b is not object]
    out.append(_entity(qual, "class", modname, cls, _doc(cls), bases=bases))
    done: set[str] = set()
    for klass in cls.__mro__:
        # Methods inherited from private helpers (argparse._ActionsContainer.add_argument) are
        # documented on the public class; public bases document their own.
        if klass is object or (
            klass is not cls and not (klass.__name__.startswith("_") or _is_backend(klass.__module__))
        ):
            continue
        for attr in sorted(vars(klass)):
            if attr.startswith("_") or attr in done:
                continue
            done.add(attr)
            member = vars(klass)[attr]
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                kind = "property"
            elif inspect.isroutine(member):
                kind = "method"
            else:
                continue
            out.append(_entity(f"{qual}.{attr}", kind, modname, member, _doc(member)))
    return out


def module_entities(
    modname: str, module: ModuleType, canonical: dict[int, tuple[str, str]], seen: set[str]
) -> list[dict[str, Any]]:
    """The module's own docstring plus the public functions and classes it is canonical for."""
    out = [_entity(modname, "module", modname, module, _doc(module))]
    functions: list[tuple[str, Any]] = []
    classes: list[tuple[str, Any]] = []
    for attr in _public_names(module):
        obj = _member(module, attr)
        if canonical.get(id(obj)) != (modname, attr):
            continue
        (classes if inspect.isclass(obj) else functions).append((attr, obj))
    # Functions before classes: the module-level alias (random.choice) beats the method it wraps.
    for attr, obj in functions:
        out.append(_entity(f"{modname}.{attr}", "function", modname, obj, _doc(obj)))
    for attr, obj in classes:
        out.extend(_class_entities(modname, f"{modname}.{attr}", obj))
    kept = []
    for ent in out:
        doc = ent["doc"]
        # Classes and modules stay even with thin docs: they are graph nodes other passages link to.
        if ent["kind"] in ("module", "class") or (len(doc.split()) >= MIN_WORDS and doc not in seen):
            if ent["kind"] not in ("module", "class"):
                seen.add(doc)
            kept.append(ent)
    return kept


def collect() -> list[dict[str, Any]]:
    """Every entity of every public stdlib module, in a deterministic order."""
    warnings.simplefilter("ignore")
    modules = {name: sys.modules[name] for name in module_names() if name in sys.modules}
    canonical = canonical_names(modules)
    seen: set[str] = set()
    entities: list[dict[str, Any]] = []
    names: set[str] = set()
    for name, module in modules.items():
        try:
            found = module_entities(name, module, canonical, seen)
        except Exception:  # noqa: BLE001, S112 - one odd module must not sink the corpus
            continue
        # A submodule can share its name with an attribute (unittest.main): the first one wins.
        for ent in found:
            if ent["name"] not in names:
                names.add(ent["name"])
                entities.append(ent)
    return entities


def main(argv: list[str]) -> int:
    """Write the collected entities as JSON to argv[1]."""
    entities = collect()
    payload = {"python": sys.version, "entities": entities}
    Path(argv[1]).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    # Some imported modules start non-daemon threads; exit hard once the file is written.
    code = main(sys.argv)
    sys.stdout.flush()
    os._exit(code)
