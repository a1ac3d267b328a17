"""A small generic registry: validated names, duplicate check, "did you mean ...?" on typos."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry(Generic[T]):
    """Maps names to entries, loaded lazily through a loader callable on first access."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._loaders: dict[str, Callable[[], T]] = {}
        self._loaded: dict[str, T] = {}

    def add(self, name: str, loader: Callable[[], T]) -> None:
        """Register ``name``; ``loader`` is called once, when the entry is first used."""
        if not _NAME.match(name):
            raise ValueError(
                f"invalid {self.kind} name {name!r}: use lower-case letters, digits and '_', "
                "starting with a letter"
            )
        if name in self._loaders:
            raise ValueError(f"duplicate {self.kind} name {name!r}")
        self._loaders[name] = loader

    def names(self) -> list[str]:
        return sorted(self._loaders)

    def __contains__(self, name: object) -> bool:
        return name in self._loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The entry registered under ``name``; a KeyError with suggestions for unknown names."""
        if name not in self._loaders:
            raise KeyError(self.unknown_message(name))
        if name not in self._loaded:
            self._loaded[name] = self._loaders[name]()
        return self._loaded[name]

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}."
