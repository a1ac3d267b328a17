"""Discovery of methods: every folder ``methods/<name>/`` holding a ``method.py`` is a method.

Adding a method is adding a folder; nothing in ``bench`` changes. The folder's
``method.py`` defines exactly one subclass of :class:`bench.methods.api.Method`, and
its ``config.yaml`` holds the settings per scale: ``tiny`` (the embedded default),
``paper`` (the paper's settings) and ``smoke`` (optional, layered on ``tiny``: the few
steps that the smoke profile and the method contract tests run).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import inspect
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import REPO_ROOT
from bench.errors import ConfigError, MethodLoadError
from bench.methods.api import CAPABILITIES, SUPERVISION, Method
from bench.registry import Registry

METHODS_DIR = REPO_ROOT / "methods"
SCALES = ("smoke", "tiny", "paper")


@dataclass(frozen=True)
class MethodSpec:
    """A discovered method: its class and its per-scale configuration."""

    name: str
    folder: Path
    cls: type[Method]
    config: dict[str, Any]  # {"common": {...}, "tiny": {...}, "paper": {...}}

    def resolved_config(self, scale: str, overrides: dict[str, Any] | None = None) -> dict:
        """``common`` merged with the ``scale`` section and then the user's ``overrides``.

        An override key that the method's config does not define is an error naming it.
        """
        if scale not in SCALES:
            raise ConfigError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
        merged = copy.deepcopy(self.config.get("common", {}))
        for section in ("tiny", "smoke") if scale == "smoke" else (scale,):
            where = f"{self.folder}/config.yaml:{section}"
            _merge(merged, self.config.get(section, {}), where, section != "smoke")
        _merge(merged, overrides or {}, f"overrides for method {self.name!r}", False)
        return merged


def _merge(base: dict, update: dict, where: str, allow_new: bool) -> None:
    for key, value in update.items():
        if key not in base and not allow_new:
            known = ", ".join(sorted(base)) or "none"
            raise ConfigError(f"unknown key {key!r} in {where}; known keys: {known}")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, f"{where}.{key}", allow_new)
        else:
            base[key] = copy.deepcopy(value)


def _import_method_module(folder: Path) -> types.ModuleType:
    """Import ``folder/method.py`` as a package module, so ``from .model import X`` works.

    The root package spans the methods directory, so a method may share a sibling's code
    with ``from ..caingan.method import CainGAN`` (ablations that differ by config only).
    """
    root = f"_idpose_methods_{hashlib.sha1(str(folder.parent).encode()).hexdigest()[:8]}"
    if root not in sys.modules:
        root_module = types.ModuleType(root)
        root_module.__path__ = [str(folder.parent)]
        sys.modules[root] = root_module
    package_name = f"{root}.{folder.name}"
    package = types.ModuleType(package_name)
    package.__path__ = [str(folder)]
    sys.modules[package_name] = package
    spec = importlib.util.spec_from_file_location(f"{package_name}.method", folder / "method.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _load(folder: Path) -> MethodSpec:
    name = folder.name
    where = f"method folder {folder}"
    if not (folder / "method.py").is_file():
        raise MethodLoadError(f"{where} has no method.py")
    try:
        module = _import_method_module(folder)
    except Exception as error:  # any import failure is the method's, report it by folder
        raise MethodLoadError(
            f"{where}: importing method.py failed: {type(error).__name__}: {error}"
        ) from error
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Method)
        and obj is not Method
        and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise MethodLoadError(
            f"{where}: method.py must define exactly one subclass of bench Method (found {found})"
        )
    cls = classes[0]
    unknown_needs = set(cls.needs) - SUPERVISION
    unknown_provides = set(cls.provides) - CAPABILITIES
    if unknown_needs or unknown_provides:
        raise MethodLoadError(
            f"{where}: {cls.__name__} declares unknown needs {sorted(unknown_needs)} or "
            f"provides {sorted(unknown_provides)}; allowed needs {sorted(SUPERVISION)}, "
            f"provides {sorted(CAPABILITIES)}"
        )
    if "target" in cls.needs and cls.trainable:
        raise MethodLoadError(f"{where}: only untrained reference rows may need 'target'")
    config_path = folder / "config.yaml"
    try:
        config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    except yaml.YAMLError as error:
        raise MethodLoadError(f"{config_path}: invalid YAML: {error}") from error
    config = config or {}
    extra = set(config) - {"common", *SCALES}
    if extra:
        raise MethodLoadError(
            f"{config_path}: unknown top-level keys {sorted(extra)}; use common, {', '.join(SCALES)}"
        )
    cls.name = name
    return MethodSpec(name=name, folder=folder, cls=cls, config=config)


def discover(methods_dir: Path = METHODS_DIR) -> Registry[MethodSpec]:
    """A registry of every method folder under ``methods_dir`` (loaded on first use)."""
    registry: Registry[MethodSpec] = Registry("method")
    for folder in sorted(methods_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            registry.add(folder.name, lambda folder=folder: _load(folder))
    return registry


_REGISTRY: Registry[MethodSpec] | None = None


def method_registry() -> Registry[MethodSpec]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = discover()
    return _REGISTRY


def get_method(name: str) -> MethodSpec:
    """The spec of method ``name``; ``ConfigError`` with suggestions for unknown names."""
    registry = method_registry()
    if name not in registry:
        raise ConfigError(registry.unknown_message(name))
    return registry.get(name)
