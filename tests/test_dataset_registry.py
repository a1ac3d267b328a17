"""One dataset registry answers what each dataset can do; the layers import downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import make_face_data

from bench import REPO_ROOT
from bench.config import validate_config
from bench.data.real.datasets import DATASETS
from bench.data.registry import SYNTHFACES, capabilities, dataset_registry
from bench.errors import ConfigError, DataError
from bench.methods.requirements import dataset_groupings

DEFAULTS = validate_config({}, "defaults")


def test_the_registry_holds_synthfaces_and_every_real_dataset():
    assert list(dataset_registry()) == ["synthfaces", *DATASETS]
    assert capabilities("synthfaces") is SYNTHFACES
    for name, spec in DATASETS.items():
        found = capabilities(name)
        assert found.pose_source == spec.pose_source
        assert not (found.rendered or found.exact_targets or found.exact_factors)
        assert found.prepare_module == "bench.data.real"
    assert SYNTHFACES.prepare_module == "bench" and SYNTHFACES.pose_source == "gt"


@pytest.mark.parametrize("name", list(dataset_registry()))
def test_sessions_and_clips_are_the_groupings_the_requirement_check_knows(name):
    groupings = dataset_groupings(name, DEFAULTS[name])
    found = capabilities(name)
    assert found.sessions == ("session" in groupings), name
    assert found.clips == ("clip" in groupings), name


def test_an_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown dataset 'synthface'; known datasets: synth"):
        capabilities("synthface")


def test_meta_json_is_asked_through_the_registry_and_a_stale_one_is_an_error():
    assert capabilities({"dataset": "synthfaces", "has_exact_targets": True}) is SYNTHFACES
    assert not capabilities({"dataset": "lfw", "has_exact_targets": False}).exact_targets
    with pytest.raises(DataError, match="has_exact_targets is True but the dataset registry"):
        capabilities({"dataset": "lfw", "has_exact_targets": True})
    with pytest.raises(DataError, match="meta.json has no 'dataset' key"):
        capabilities({"has_exact_targets": True})


def test_a_split_of_a_registered_dataset_has_its_registry_entry():
    data = make_face_data(resolution=8)
    data.name = "lfw"
    assert capabilities(data) is capabilities("lfw")


def test_a_toy_split_has_exact_factors_only_where_every_pose_is_exact():
    data = make_face_data(resolution=8)
    found = capabilities(data)
    assert found.exact_factors and not found.exact_targets and found.pose_source == "gt"
    data.index.loc[0, "pose_source"] = "dlib68-pnp"
    found = capabilities(data)
    assert not found.exact_factors and found.pose_source == "mixed"


# -- layering (docs/DESIGN.md: data flows top to bottom, never back up) ----------------------
FORBIDDEN = {
    "bench/data": ("bench.methods", "bench.train", "bench.cli"),
    "bench/evaluators": ("bench.train", "bench.cli"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, at any depth (function-level too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def upward_imports(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    problems = []
    for path in sorted((REPO_ROOT / folder).rglob("*.py")):
        for line, module in imported_modules(path):
            if any(module == f or module.startswith(f"{f}.") for f in forbidden):
                problems.append(f"{path.relative_to(REPO_ROOT)}:{line}: imports {module}")
    return sorted(set(problems))


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above_it(folder):
    assert upward_imports(folder, FORBIDDEN[folder]) == []


def test_the_import_walk_finds_function_level_and_from_imports(tmp_path, monkeypatch):
    package = tmp_path / "bench" / "data"
    package.mkdir(parents=True)
    (package / "bad.py").write_text(
        "import bench.cli\n\ndef f():\n    from bench import train\n    from bench.methods.api import Method\n"
    )
    monkeypatch.setattr(__import__(__name__), "REPO_ROOT", tmp_path)
    assert upward_imports("bench/data", FORBIDDEN["bench/data"]) == [
        "bench/data/bad.py:1: imports bench.cli",
        "bench/data/bad.py:4: imports bench.train",
        "bench/data/bad.py:5: imports bench.methods.api",
        "bench/data/bad.py:5: imports bench.methods.api.Method",
    ]


def test_every_is_it_synthfaces_question_goes_through_the_registry():
    """The call sites that asked by name, by meta.json's flag or by pose_source ask
    ``capabilities`` now; nothing else in bench/ or workflow/ asks the old ways."""
    patterns = ('== "synthfaces"', '!= "synthfaces"', '"synthfaces" in config', "in DATASETS")
    patterns += ('get("has_exact_targets")', '["has_exact_targets"]', '== "gt"')
    hits = []
    files = [*(REPO_ROOT / "bench").rglob("*.py"), *(REPO_ROOT / "workflow").rglob("*.smk")]
    for path in files:
        if path.name == "registry.py" and path.parent.name == "data":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(p in line for p in patterns):
                hits.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert hits == []
