"""Configuration: one JSON schema with every default, strict about unknown keys.

The schema lives in ``workflow/schemas/config.schema.yaml``; the Snakefile and the
library validate against the same file, so ``python -m bench`` and Snakemake agree.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bench import REPO_ROOT
from bench.errors import ConfigError

SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


@cache
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _with_defaults(validator_class: type) -> type:
    """A validator that fills each property's ``default`` before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """A validated copy of ``config`` with every default filled in.

    Errors name the key path and the source file, e.g. ``config/config.yaml: key
    'synthfaces.resolutin': unknown key``; unknown method names are checked too.
    """
    filled = copy.deepcopy(config or {})
    errors = sorted(_Validator(_schema()).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        raise ConfigError(_describe(errors[0], source))
    from bench.methods.registry import get_method

    for name in filled["methods"]:
        try:
            get_method(name)
        except ConfigError as error:
            raise ConfigError(f"{source}: key 'methods': {error}") from error
    for name in filled["method_overrides"]:
        if name not in filled["methods"]:
            raise ConfigError(
                f"{source}: key 'method_overrides.{name}': {name!r} is not in 'methods'"
            )
    return filled


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        key = ".".join(filter(None, [path, extra[0] if extra else ""]))
        return f"{source}: key {key!r}: unknown key; known keys here: {', '.join(known)}"
    return f"{source}: key {path or '<top>'!r}: {error.message}"


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config file, apply ``overrides`` (nested dict) and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    _deep_update(config, overrides or {})
    return validate_config(config, str(path))


def _deep_update(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def trained_seeds(config: dict[str, Any], method: str) -> list[int]:
    """Seeds a method is trained with: all configured seeds, or the first for reference rows."""
    from bench.methods.registry import get_method

    seeds = list(config["seeds"])
    return seeds if get_method(method).cls.trainable else seeds[:1]
