"""A folder prepared evaluation-only (``folder.evaluation_only``: no train split) listed in
``datasets`` while methods would train on it: an error at DAG build naming the dataset, the
key and the methods, not a failure in the first training job (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.config import validate_config
from bench.errors import ConfigError
from bench.methods.requirements import check_requirements


def test_an_evaluation_only_folder_in_datasets_is_refused_naming_key_and_methods(tmp_path):
    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    config.update(datasets=["synthfaces", "folder"], methods=["copy_source", "faceaae"])
    config["folder"] = {"root": str(tmp_path), "evaluation_only": True}
    config = validate_config(config)
    with pytest.raises(
        ConfigError,
        match=r"my.yaml: dataset 'folder' is prepared evaluation-only \(folder.evaluation_only: "
        r"true.*methods copy_source, faceaae are trained.*remove 'folder' from 'datasets'",
    ):
        check_requirements(config, "my.yaml")
    config["folder"]["evaluation_only"] = False
    check_requirements(config, "my.yaml")  # the same folder for training: no objection
    config["folder"]["evaluation_only"] = True
    config["datasets"] = ["synthfaces"]
    check_requirements(config, "my.yaml")  # prepared for evaluation, not listed: fine
