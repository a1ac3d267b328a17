"""Discovery of methods: every folder ``methods/<name>/`` holding a ``method.py`` is a method.

Adding a method is adding a folder; nothing in ``bench`` changes. The folder's
``method.py`` defines exactly one subclass of :class:`bench.methods.api.Method`, and
its ``config.yaml`` holds the settings per scale: ``tiny`` (the embedded default),
``paper`` (the paper's settings) and ``smoke`` (optional, layered on ``tiny``: the few
steps that the smoke profile and the method contract tests run).

A variant's config starts with ``base: <method>`` and lists only what it changes: each
section (common, tiny, paper, smoke) is deep-merged over the base's. The merged config is
strict: a key of ``tiny`` or ``paper`` is either in ``common`` (nested keys too) or a
per-scale key that both ``tiny`` and ``paper`` set; a key of ``smoke`` is in ``common`` or
``tiny``. Errors name the file and the key; unknown bases and base cycles name the file.
"""

from __future__ import annotations

import copy
import difflib
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
            if not allow_new:
                _check_type(key, base[key], value, where)
            base[key] = copy.deepcopy(value)


def _kind(value: Any) -> str | None:
    """The YAML kind of a config value ("boolean", "number", "string", "list", "mapping"),
    or None for null (a key whose default is null takes any kind)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _check_type(key: str, default: Any, value: Any, where: str) -> None:
    """An override must have its default's kind: the string "false" for a boolean key would
    otherwise be truthy, and "0.0" for a number would fail deep inside training. Command-line
    ``--config`` values are parsed by Snakemake, which can leave nested values as strings."""
    expected, got = _kind(default), _kind(value)
    if expected is None or got is None or expected == got:
        return
    raise ConfigError(
        f"key {key!r} in {where}: expected a {expected} (its default is {default!r}), got the "
        f"{got} {value!r}; write the value as YAML would read it (true, 0.5), e.g. in a "
        "--configfile"
    )


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
    config = read_method_config(folder)
    cls.name = name
    return MethodSpec(name=name, folder=folder, cls=cls, config=config)


SECTIONS = ("common", *SCALES)


def _read_config_file(path: Path) -> dict[str, Any]:
    """One ``config.yaml`` as written (``{}`` when the folder has none), top level checked."""
    try:
        config = yaml.safe_load(path.read_text()) if path.exists() else {}
    except yaml.YAMLError as error:
        raise MethodLoadError(f"{path}: invalid YAML: {error}") from error
    config = config or {}
    if not isinstance(config, dict):
        raise MethodLoadError(f"{path}: the top level must be a mapping of sections")
    extra = set(config) - {"base", *SECTIONS}
    if extra:
        raise MethodLoadError(
            f"{path}: unknown top-level keys {sorted(extra)}; use base, common, {', '.join(SCALES)}"
        )
    for section in SECTIONS:
        if not isinstance(config.get(section) or {}, dict):
            raise MethodLoadError(f"{path}: section {section!r} must be a mapping of keys")
    return config


def config_chain(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """``folder``'s config file and those of its ``base`` chain, the folder's own first."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    while True:
        path = folder / "config.yaml"
        if any(path == seen for seen, _ in chain):
            cycle = " -> ".join(p.parent.name for p, _ in chain) + f" -> {folder.name}"
            raise MethodLoadError(f"{chain[-1][0]}: base cycle {cycle}")
        config = _read_config_file(path)
        chain.append((path, config))
        base = config.get("base")
        if base is None:
            return chain
        siblings = sorted(p.name for p in folder.parent.iterdir() if (p / "method.py").is_file())
        if not isinstance(base, str) or base not in siblings:
            close = difflib.get_close_matches(str(base), siblings, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MethodLoadError(
                f"{path}: key 'base': {base!r} is not a method folder in {folder.parent}{hint}"
            )
        folder = folder.parent / base


def read_method_config(folder: Path) -> dict[str, Any]:
    """The config of the method in ``folder``: its base chain deep-merged, then checked strict."""
    chain = config_chain(folder)
    merged: dict[str, Any] = {}
    for _, config in reversed(chain):
        for section in SECTIONS:
            if config.get(section):
                _merge(merged.setdefault(section, {}), config[section], "", allow_new=True)
    for section, key in _stray_keys(merged):
        path = next(p for p, c in chain if _defines(c.get(section) or {}, key.split(".")))
        raise MethodLoadError(f"{path}: key '{section}.{key}': {_STRAY[section]}")
    return merged


_STRAY = {
    "tiny": "not in 'common' and not set in 'paper' (a per-scale key is set in tiny and paper)",
    "paper": "not in 'common' and not set in 'tiny' (a per-scale key is set in tiny and paper)",
    "smoke": "not in 'common' or 'tiny' (smoke only changes keys that tiny resolves)",
}


def _stray_keys(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(section, dotted key) of every scale key that the strictness rules refuse."""
    common = config.get("common") or {}
    tiny, paper = config.get("tiny") or {}, config.get("paper") or {}
    found = []
    for section, other in (("tiny", paper), ("paper", tiny)):
        for key, value in (config.get(section) or {}).items():
            if key in common:
                found += [(section, k) for k in _unknown(value, common[key], key)]
            elif key not in other:
                found.append((section, key))
    resolved_tiny = copy.deepcopy(common)
    _merge(resolved_tiny, tiny, "", allow_new=True)
    found += [("smoke", k) for k in _unknown(config.get("smoke") or {}, resolved_tiny, "")]
    return found


def _unknown(value: Any, reference: Any, prefix: str) -> list[str]:
    """Dotted keys of mapping ``value`` that mapping ``reference`` lacks (recursively)."""
    if not isinstance(value, dict) or not isinstance(reference, dict):
        return []
    dot = f"{prefix}." if prefix else ""
    missing = []
    for key, sub in value.items():
        if key not in reference:
            missing.append(dot + key)
        else:
            missing += _unknown(sub, reference[key], dot + key)
    return missing


def _defines(section: dict[str, Any], keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(section, dict) or key not in section:
            return False
        section = section[key]
    return True


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
