"""LFW: the pairs file is used as given (10 folds in file order); its images must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.pairs import make_pairs, pair_image_path, write_pairs
from bench.data.real.lfw import list_lfw, read_lfw_pairs
from bench.errors import DataError


def lfw_placeholders(root: Path, people: int, images: int) -> dict[str, int]:
    """Empty files in LFW's layout (the parser checks paths, it decodes nothing)."""
    counts = {}
    for person in range(people):
        name = f"Person_{person:03d}"
        for number in range(1, images + 1):
            path = root / pair_image_path(name, number, "jpg")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        counts[name] = images
    return counts


@pytest.fixture(scope="module")
def lfw_6000(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lfw") / "lfw"
    counts = lfw_placeholders(root, people=40, images=30)
    write_pairs(root.parent / "pairs.txt", make_pairs(counts, 10, 300, seed=1), 10, 300)
    return root, root.parent / "pairs.txt"


def test_lfw_pairs_file_of_6000_pairs_has_exact_fold_boundaries(lfw_6000):
    root, pairs_path = lfw_6000
    pairs = read_lfw_pairs(root, pairs_path)
    assert len(pairs) == 6000
    for position, pair in enumerate(pairs):
        assert pair.fold == position // 600
        assert pair.same == (position % 600 < 300)
        assert pair.line == position + 2


def test_lfw_pairs_people_are_the_test_split(lfw_6000):
    root, _ = lfw_6000
    listing = list_lfw(root, {"pairs_file": "pairs.txt"})
    in_pairs = {p.name1 for p in listing.pairs} | {p.name2 for p in listing.pairs}
    assert {s.name for s in listing.sources if s.split == "test"} == in_pairs
    assert listing.pairs_file == str(root.parent / "pairs.txt")


def test_a_pair_whose_image_is_missing_is_an_error_naming_the_line(tmp_path):
    root = tmp_path / "lfw"
    counts = lfw_placeholders(root, people=8, images=4)
    pairs = make_pairs(counts, 2, 3, seed=0)
    write_pairs(tmp_path / "pairs.txt", pairs, 2, 3)
    victim = pairs[4]
    (root / pair_image_path(victim.name1, victim.number1, "jpg")).unlink()
    with pytest.raises(DataError, match=rf"pairs.txt: line {victim.line}: image .* is missing"):
        read_lfw_pairs(root, tmp_path / "pairs.txt")


def test_a_malformed_pairs_line_names_file_and_line(tmp_path):
    root = tmp_path / "lfw"
    lfw_placeholders(root, people=4, images=3)
    (tmp_path / "pairs.txt").write_text("2\t1\nPerson_000\t1\t2\nPerson_000 1 Person_001 2\n")
    with pytest.raises(DataError, match=r"pairs.txt: line 3"):
        read_lfw_pairs(root, tmp_path / "pairs.txt")


def test_a_missing_pairs_file_names_the_setting(tmp_path):
    lfw_placeholders(tmp_path / "lfw", people=2, images=2)
    with pytest.raises(DataError, match="lfw.pairs_file"):
        list_lfw(tmp_path / "lfw", {"pairs_file": "pairsDevTest.txt"})
