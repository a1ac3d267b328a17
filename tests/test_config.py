"""Configuration: defaults from the schema, unknown keys and method names named in errors."""

from __future__ import annotations

import pytest
import yaml

from bench import REPO_ROOT
from bench.config import load_config, trained_seeds, validate_config
from bench.errors import ConfigError


def test_empty_config_gets_every_default():
    config = validate_config({})
    assert config["synthfaces"]["resolution"] == 64
    assert config["synthfaces"]["pairs"] == {"sets": 10, "per_set": 300, "seed": 0}
    assert config["protocols"]["pose_transfer"]["k"] == [1, 2, 4, 8]
    assert config["train"]["device"] == "auto"


def test_shipped_configs_are_valid():
    base = yaml.safe_load((REPO_ROOT / "config/config.yaml").read_text())
    for overlay in ("smoke.yaml", "gpu.yaml"):
        load_config(
            REPO_ROOT / "config/config.yaml",
            yaml.safe_load((REPO_ROOT / "config" / overlay).read_text()),
        )
    from bench.methods.registry import discover

    methods = validate_config(base)["methods"]
    assert methods[:4] == ["copy_source", "copy_driver", "ground_truth", "pose_ae"]
    assert set(methods) == set(discover().names())  # the default runs every method folder


def test_unknown_nested_key_is_named_with_its_path(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("synthfaces:\n  resolutin: 64\n")
    with pytest.raises(ConfigError, match=rf"{path}: key 'synthfaces.resolutin': unknown key"):
        load_config(path)


def test_unknown_top_level_key_is_named():
    with pytest.raises(ConfigError, match="key 'sedes': unknown key"):
        validate_config({"sedes": [0]})


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match="key 'synthfaces.resolution'"):
        validate_config({"synthfaces": {"resolution": 63}})


def test_unknown_method_name_is_named_with_a_suggestion():
    with pytest.raises(
        ConfigError, match=r"key 'methods': unknown method 'copy_sauce'.*Did you mean 'copy_source'"
    ):
        validate_config({"methods": ["copy_sauce"]})


def test_overrides_for_a_method_not_run_are_an_error():
    with pytest.raises(ConfigError, match="method_overrides.pose_ae"):
        validate_config({"methods": ["copy_source"], "method_overrides": {"pose_ae": {"steps": 1}}})


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seeds: [0, 1\n")
    with pytest.raises(ConfigError, match=f"{path}: invalid YAML"):
        load_config(path)


def test_reference_rows_train_one_seed_learned_methods_all():
    config = validate_config({"seeds": [3, 4, 5]})
    assert trained_seeds(config, "copy_source") == [3]
    assert trained_seeds(config, "pose_ae") == [3, 4, 5]


def test_environment_yml_pins_the_same_versions_as_pyproject():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    assert set(project) <= set(pip), set(project) - set(pip)


def test_run_seed_parses_trained_and_untrained_runs():
    import argparse

    from bench.cli import run_seed

    assert run_seed("3") == run_seed("3") and not run_seed("3").untrained
    untrained = run_seed("0-untrained")
    assert untrained.seed == 0 and untrained.untrained
    assert untrained.label("ipgan") == "ipgan (untrained)" and run_seed("1").label("x") == "x"
    with pytest.raises(argparse.ArgumentTypeError, match="invalid seed 'seed0'"):
        run_seed("seed0")


def test_the_weights_key_an_n_a_row_names_exists_in_the_schema():
    """FVD's n/a row tells the user to set ``evaluators.fvd.weights_path``: the key must
    validate, default to null and carry a path through (it was missing from the schema)."""
    from bench.evaluators.i3d import CONFIG_KEY

    *sections, leaf = CONFIG_KEY.split(".")
    override: dict = {leaf: "/weights/i3d_torchscript.pt"}
    for section in reversed(sections):
        override = {section: override}
    defaults, config = validate_config({}), validate_config(override)
    for section in sections:
        defaults, config = defaults[section], config[section]
    assert defaults[leaf] is None
    assert config[leaf] == "/weights/i3d_torchscript.pt"
