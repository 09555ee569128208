"""What every adapter does with a component run: name it, give it a kind, open its span, frame its work.

Names are the framework's, made safe for a dotted path; two different components of one name
under one parent run become `name`, `name_2`, ... in the order they first ran, while one
component run twice there keeps its name (its times add up, like a marked loop). Framing
shadows a work method on the instance with `ragperf.spans.framed`, so later calls run under
the trampoline of the span that is open when the method is called.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from typing import TYPE_CHECKING, Any

from ragperf import spans

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["FRAMED", "Framing", "Siblings", "kind_from_names", "safe_name"]

FRAMED = "__ragperf_framed__"  # instance attribute: (id of the instance framed, names of its framed methods)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_SCOPES = 256  # parent runs remembered for sibling names; past it the oldest are dropped

# Substrings of a component's class or module name, in the order they are tried.
_KIND_HINTS = (
    ("retriev", "retrieval"),
    ("rerank", "rerank"),
    ("ranker", "rerank"),
    ("postprocessor", "rerank"),
    ("embed", "embedding"),
    ("generator", "generation"),
    ("chatmodel", "generation"),
    ("llm", "generation"),
)


@functools.lru_cache(maxsize=4096)  # called per component run, with a handful of distinct names
def safe_name(name: str | None, fallback: str = "component") -> str:
    """`name` with every run of characters a dotted path cannot hold (dots, spaces, brackets) made one '_'."""
    cleaned = _UNSAFE.sub("_", name or "").strip("_")
    return cleaned or fallback


@functools.lru_cache(maxsize=4096)
def kind_from_names(*names: str) -> str:
    """A span kind guessed from class or module names: retrieval, rerank, embedding, generation, or other."""
    text = " ".join(names).lower()
    for hint, kind in _KIND_HINTS:
        if hint in text:
            return kind
    return "other"


class Siblings:
    """Stable distinct names for the components that run under one parent span run.

    A parent run is its `OpenSpan` object with its path: the executor reuses one object for a
    query's sequential stages and changes its path, and makes a new one per query.
    """

    def __init__(self) -> None:
        self._scopes: dict[int, tuple[spans.OpenSpan, str | None, dict[str, list[object]]]] = {}
        self._lock = threading.Lock()

    def name(self, name: str, owner: object) -> str:
        """The name a component called `name` gets under the innermost open span.

        `owner` tells components apart: the instance itself, or a name the framework keeps
        unique (a Haystack component's name in its pipeline). An instance is held by a weak
        reference and compared by identity: a short-lived component freed within the parent run
        and another made in its place (two text splitters, one after the other) may share an
        `id()`, and must still be two components.
        """
        parent = spans.current_span.get()
        if parent is None:
            return name
        with self._lock:
            scope = self._scopes.get(id(parent))
            if scope is None or scope[0] is not parent or scope[1] != parent.path:
                if len(self._scopes) >= _MAX_SCOPES:
                    del self._scopes[next(iter(self._scopes))]
                scope = self._scopes[id(parent)] = (parent, parent.path, {})
            owners = scope[2].setdefault(name, [])
            key = _owner_key(owner)
            index = next((i for i, known in enumerate(owners) if _same_owner(known, owner)), None)
            if index is None:
                owners.append(key)
                index = len(owners) - 1
        return name if index == 0 else f"{name}_{index + 1}"

    def release(self, span: spans.OpenSpan) -> None:
        """Forget a parent run that ended (a component span the adapter closed)."""
        with self._lock:
            self._scopes.pop(id(span), None)

    def clear(self) -> None:
        """Forget every parent run."""
        with self._lock:
            self._scopes.clear()


def _owner_key(owner: object) -> object:
    """What a scope keeps of an owner: a weak reference to an instance (by identity), else the value."""
    if isinstance(owner, (str, int, tuple)):
        return owner
    try:
        return weakref.ref(owner)
    except TypeError:  # no weak references to it (slots without __weakref__): keep it alive for the scope
        return _Held(owner)


class _Held:
    """An owner that cannot be weakly referenced, held (and compared by identity) for its scope's life."""

    __slots__ = ("owner",)

    def __init__(self, owner: object) -> None:
        self.owner = owner


def _same_owner(known: object, owner: object) -> bool:
    if isinstance(known, weakref.ref):
        return known() is owner
    if isinstance(known, _Held):
        return known.owner is owner
    return known == owner


class Framing:
    """The methods an adapter framed, instance by instance, so that uninstalling puts them back.

    A framed method is an instance attribute wrapping the bound method. A copy of a framed
    instance (pydantic's `model_copy`, `copy.copy`, `deepcopy`) inherits those attributes, bound
    to the original; the marker names its owner, so the first hook that sees the copy run, which
    is before its work method is called, drops them (`own`) or frames the copy afresh.
    """

    def __init__(self) -> None:
        self._framed: list[Any] = []
        self._lock = threading.Lock()

    @staticmethod
    def has(instance: object, method: str) -> bool:
        """True when `method` is framed on this very instance."""
        state = getattr(instance, "__dict__", None)
        marker = None if state is None else state.get(FRAMED)
        return marker is not None and marker[0] == id(instance) and method in marker[1]

    @staticmethod
    def own(instance: object) -> None:
        """Drop the shadows a copy inherited from a framed original, so the copy runs its own methods.

        Cheap (one dict lookup); adapters call it on every instance their hooks see, in a span or not.
        """
        state = getattr(instance, "__dict__", None)
        marker = None if state is None else state.get(FRAMED)
        if state is not None and marker is not None and marker[0] != id(instance):
            for method in (*marker[1], FRAMED):
                state.pop(method, None)

    def frame(
        self, instance: object, methods: Mapping[str, Callable[[Callable[..., Any]], Callable[..., Any]]]
    ) -> None:
        """Shadow each of `methods` the instance's class defines with its wrapper of the bound method.

        The wrapper is `ragperf.spans.framed` for a method called while the component's span is
        open, or an adapter's own for a method that opens the span itself. Methods already
        framed on this instance are left as they are.
        """
        self.own(instance)
        state = getattr(instance, "__dict__", None)
        if state is None:
            return
        marker = state.get(FRAMED)
        done: tuple[str, ...] = () if marker is None else marker[1]
        todo = [method for method in methods if method not in done]
        if not todo:
            return
        cls = type(instance)
        names = list(done)
        for method in todo:
            function = getattr(cls, method, None)
            if function is None or not hasattr(function, "__get__"):
                continue
            # From the class, not the instance: a copy's attribute would be the original's bound method.
            bound = function.__get__(instance, cls)
            object.__setattr__(instance, method, methods[method](bound))  # bypasses pydantic's __setattr__
            names.append(method)
        object.__setattr__(instance, FRAMED, (id(instance), tuple(names)))
        if marker is None:
            with self._lock:
                self._framed.append(instance)

    def unframe_all(self) -> None:
        """Remove every shadowing attribute this framing set."""
        with self._lock:
            framed, self._framed = self._framed, []
        for instance in framed:
            state = instance.__dict__
            marker = state.pop(FRAMED, None)
            for method in () if marker is None else marker[1]:
                state.pop(method, None)
