"""Method discovery: a folder under methods/ is a method; broken folders name themselves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import REPO_ROOT
from bench.errors import ConfigError, MethodLoadError
from bench.methods.api import Method
from bench.methods.registry import discover, get_method

GOOD = """
from bench.methods.api import Method

class Echo(Method):
    provides = frozenset({"transfer"})
    trainable = False

    def transfer(self, sources, driver):
        return sources[:, 0]
"""


def test_every_folder_under_methods_is_discovered():
    names = discover().names()
    assert {"copy_source", "copy_driver", "ground_truth", "pose_ae"} <= set(names)


def test_a_new_folder_is_a_new_method_with_relative_imports(tmp_path):
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "helper.py").write_text("VALUE = 3\n")
    (tmp_path / "echo" / "method.py").write_text("from .helper import VALUE\n" + GOOD)
    (tmp_path / "echo" / "config.yaml").write_text("common: {a: 1}\ntiny: {b: 2}\npaper: {b: 3}\n")
    spec = discover(tmp_path).get("echo")
    assert issubclass(spec.cls, Method) and spec.cls.name == "echo"
    assert spec.resolved_config("paper") == {"a": 1, "b": 3}


@pytest.mark.parametrize("order", [("echo", "echo_variant"), ("echo_variant", "echo")])
def test_a_method_may_subclass_a_sibling_folder(tmp_path, order):
    """Ablations share code: methods/<b>/method.py imports from ..<a>.method."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "method.py").write_text(GOOD)
    (tmp_path / "echo_variant").mkdir()
    (tmp_path / "echo_variant" / "method.py").write_text(
        "from ..echo.method import Echo\n\nclass EchoVariant(Echo):\n    pass\n"
    )
    registry = discover(tmp_path)
    specs = {name: registry.get(name) for name in order}
    assert specs["echo_variant"].cls.__name__ == "EchoVariant"
    assert issubclass(specs["echo_variant"].cls, Method)
    assert specs["echo"].cls.name == "echo" and specs["echo_variant"].cls.name == "echo_variant"


def test_a_folder_that_does_not_import_names_the_folder(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "method.py").write_text("import does_not_exist_anywhere\n")
    with pytest.raises(
        MethodLoadError, match=r"broken.*ModuleNotFoundError.*does_not_exist_anywhere"
    ):
        discover(tmp_path).get("broken")


def test_a_folder_without_a_method_class_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "method.py").write_text("X = 1\n")
    with pytest.raises(MethodLoadError, match="exactly one subclass"):
        discover(tmp_path).get("empty")


def test_unknown_needs_are_rejected(tmp_path):
    (tmp_path / "greedy").mkdir()
    (tmp_path / "greedy" / "method.py").write_text(
        GOOD.replace(
            'provides = frozenset({"transfer"})',
            'provides = frozenset({"transfer"})\n    needs = frozenset({"telepathy"})',
        )
    )
    with pytest.raises(MethodLoadError, match="telepathy"):
        discover(tmp_path).get("greedy")


def test_unknown_method_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean .pose_ae."):
        get_method("pose_aee")


def test_override_of_an_unknown_method_key_is_an_error():
    with pytest.raises(ConfigError, match="unknown key 'widht'"):
        get_method("pose_ae").resolved_config("tiny", {"widht": 3})


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("pose_grey", "true", "boolean"),  # bool("false") would be truthy
        ("complete_representation_share", "0.0", "number"),  # fails deep in training
        ("steps", True, "number"),
        ("sampling_group", 1, "string"),
        ("betas", 0.5, "list"),
    ],
)
def test_an_override_of_another_kind_than_its_default_names_the_key(key, value, kind):
    """Snakemake's ``--config method_overrides={ipgan: {pose_grey: true}}`` hands the nested
    values over as strings; the override must say so instead of training on "true"."""
    with pytest.raises(ConfigError, match=rf"key '{key}' .*expected a {kind}"):
        get_method("ipgan").resolved_config("tiny", {key: value})


def test_overrides_of_the_same_kind_or_of_a_null_default_are_taken():
    config = get_method("ipgan").resolved_config(
        "tiny", {"lr": 1, "steps": 30, "pose_grey": True, "scene_discriminator_lr": 0.002}
    )
    assert (config["lr"], config["steps"], config["pose_grey"]) == (1, 30, True)
    assert config["scene_discriminator_lr"] == 0.002


def test_cli_lists_methods_with_needs_and_provides():
    out = subprocess.run(
        [sys.executable, "-m", "bench", "methods"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "clip, pose_angles" in lines["pose_ae"] and "identity_code, transfer" in lines["pose_ae"]
    assert "no (reference)" in lines["copy_source"]


def _method_folder(root, name: str, config: str) -> None:
    (root / name).mkdir()
    (root / name / "method.py").write_text(GOOD.replace("class Echo", f"class Echo{name}"))
    (root / name / "config.yaml").write_text(config)


BASE_CONFIG = """
common: {lr: 1, perceptual: {backbone: vgg19, weights_path: null}}
tiny: {width: 8, steps: 10}
smoke: {steps: 2}
paper: {width: 64, steps: 1000, perceptual: {backbone: vgg19}}
"""


def test_a_variant_config_lists_only_what_it_changes(tmp_path):
    _method_folder(tmp_path, "parent", BASE_CONFIG)
    _method_folder(tmp_path, "child", "base: parent\ncommon: {lr: 2}\npaper: {steps: 5}\n")
    registry = discover(tmp_path)
    parent, child = registry.get("parent"), registry.get("child")
    for scale in ("smoke", "tiny"):
        assert child.resolved_config(scale) == {**parent.resolved_config(scale), "lr": 2}
    assert child.resolved_config("paper") == {
        "lr": 2,
        "perceptual": {"backbone": "vgg19", "weights_path": None},
        "width": 64,
        "steps": 5,
    }


def test_a_variant_of_a_variant_merges_the_whole_chain(tmp_path):
    _method_folder(tmp_path, "parent", BASE_CONFIG)
    _method_folder(tmp_path, "child", "base: parent\ncommon: {lr: 2}\n")
    _method_folder(tmp_path, "grandchild", "base: child\ntiny: {width: 4}\n")
    config = discover(tmp_path).get("grandchild").resolved_config("tiny")
    assert config["lr"] == 2 and config["width"] == 4 and config["steps"] == 10


def test_an_unknown_base_names_the_file_and_the_closest_method(tmp_path):
    _method_folder(tmp_path, "parent", BASE_CONFIG)
    _method_folder(tmp_path, "child", "base: parnet\n")
    with pytest.raises(MethodLoadError) as error:
        discover(tmp_path).get("child")
    message = str(error.value)
    assert str(tmp_path / "child" / "config.yaml") in message
    assert "key 'base': 'parnet' is not a method folder" in message
    assert "did you mean 'parent'?" in message


def test_a_base_cycle_names_the_file_and_the_cycle(tmp_path):
    _method_folder(tmp_path, "a", "base: b\n" + BASE_CONFIG)
    _method_folder(tmp_path, "b", "base: a\n")
    with pytest.raises(MethodLoadError) as error:
        discover(tmp_path).get("a")
    assert str(error.value) == f"{tmp_path / 'b' / 'config.yaml'}: base cycle a -> b -> a"
    _method_folder(tmp_path, "selfish", "base: selfish\n")
    with pytest.raises(
        MethodLoadError, match=r"selfish/config.yaml: base cycle selfish -> selfish"
    ):
        discover(tmp_path).get("selfish")


@pytest.mark.parametrize(
    ("variant", "key", "why"),
    [
        ("tiny: {widht: 3}", "tiny.widht", "not in 'common' and not set in 'paper'"),
        ("paper: {stpes: 3}", "paper.stpes", "not in 'common' and not set in 'tiny'"),
        ("paper: {perceptual: {layers: 3}}", "paper.perceptual.layers", "not in 'common'"),
        ("smoke: {batch: 3}", "smoke.batch", "not in 'common' or 'tiny'"),
    ],
)
def test_a_scale_key_that_common_lacks_names_the_file_and_key(tmp_path, variant, key, why):
    _method_folder(tmp_path, "parent", BASE_CONFIG)
    _method_folder(tmp_path, "child", f"base: parent\n{variant}\n")
    with pytest.raises(MethodLoadError) as error:
        discover(tmp_path).get("child")
    assert str(error.value).startswith(f"{tmp_path / 'child' / 'config.yaml'}: key '{key}': {why}")
    discover(tmp_path).get("parent")  # the base itself is fine


def test_a_stray_key_in_a_base_names_the_base_file(tmp_path):
    _method_folder(tmp_path, "parent", BASE_CONFIG.replace("tiny: {", "tiny: {lr_x: 1, "))
    _method_folder(tmp_path, "child", "base: parent\n")
    with pytest.raises(MethodLoadError, match=r"parent/config.yaml: key 'tiny.lr_x'"):
        discover(tmp_path).get("child")


def test_the_shipped_variants_inherit_their_parents_configs():
    bases = {
        "caingan_mean": "caingan",
        "caingan_no_ramp": "caingan",
        "caingan_no_target": "caingan",
        "faceaae_joint": "faceaae",
        "drgan_multi": "drgan",
    }
    for variant, base in bases.items():
        text = (REPO_ROOT / "methods" / variant / "config.yaml").read_text()
        assert f"\nbase: {base}\n" in text, variant
        assert len(text.splitlines()) <= 15, f"{variant}: a variant lists only what it changes"
