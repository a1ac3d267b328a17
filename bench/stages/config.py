"""Stages that inspect the setup: ``methods`` (the discovered methods) and
``validate-config`` (layered config files, validated as the DAG build does)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def cmd_methods(args: argparse.Namespace) -> None:
    from bench.methods.registry import method_registry

    registry = method_registry()
    rows = []
    for name in registry:
        spec = registry.get(name)
        rows.append(
            (
                name,
                "yes" if spec.cls.trainable else "no (reference)",
                ", ".join(sorted(spec.cls.needs)) or "-",
                ", ".join(sorted(spec.cls.provides)) or "-",
            )
        )
    header = ("method", "trained", "needs", "provides")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_validate_config(args: argparse.Namespace) -> None:
    """Layer config files as Snakemake's ``configfiles`` do (later keys win, mappings merge),
    validate the result and check each method's training sampling and protocol 1's K
    against every dataset (what the DAG build checks)."""
    import yaml

    from bench.config import _deep_update, load_config
    from bench.methods.requirements import check_requirements

    files = [Path(f) for f in args.configfile]
    if args.profile:
        profile = yaml.safe_load((Path(args.profile) / "config.yaml").read_text()) or {}
        files = [Path(f) for f in profile.get("configfiles", [])] + files
    if not files:
        raise BenchError("validate-config: give config files, a --profile, or both")
    layered: dict[str, Any] = {}
    for file in files[1:]:
        try:
            _deep_update(layered, yaml.safe_load(file.read_text()) or {})
        except (OSError, yaml.YAMLError) as error:
            raise BenchError(f"{file}: cannot read it as YAML: {error}") from error
    config = load_config(files[0], layered)
    check_requirements(config, " + ".join(map(str, files)))
    print(json.dumps(config, indent=2))


def validate_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("configfile", nargs="*", help="config files, later ones override earlier")
    p.add_argument("--profile", help="a workflow profile folder: its configfiles come first")
