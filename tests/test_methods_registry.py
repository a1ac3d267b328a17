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
