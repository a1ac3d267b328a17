"""LFW pairs.txt: exact format, strict errors with line numbers, View-2-like generation."""

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from bench.data.pairs import (
    SAME_SCENE_PAIRS_FILE,
    Pair,
    PairsFormatError,
    exact_split,
    largest_protocol,
    make_pairs,
    make_scene_pairs,
    pair_image_path,
    read_pairs,
    scene_groups_per_identity,
    write_pairs,
    write_scene_pairs,
)

LFW_LIKE_HEAD = (
    "2\t2\n"
    "Abel_Pacheco\t1\t4\n"
    "Akhmed_Zakayev\t1\t3\n"
    "Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"
    "Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1\n"
    "Ben_Curtis\t2\t3\n"
    "Bill_Clinton\t10\t12\n"
    "Bill_Gates\t1\tGeorge_W_Bush\t530\n"
    "Carlos_Moya\t3\tZico\t1\n"
)


def lfw_sized_pool(n_identities: int = 400) -> dict[str, int]:
    """A pool shaped like LFW: a few large identities, many small ones, some singletons."""
    counts = [530, 236, 144, 121, 109] + [2 + index % 9 for index in range(n_identities - 5)]
    counts += [1] * 300
    return {f"Person_{index:04d}": count for index, count in enumerate(counts)}


def write_text(tmp_path: Path, text: str) -> Path:
    """Write ``text`` to a pairs file in ``tmp_path`` and return its path."""
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_read_pairs_parses_matched_then_mismatched_per_set(tmp_path: Path) -> None:
    pairs = read_pairs(write_text(tmp_path, LFW_LIKE_HEAD))
    assert pairs[0] == Pair("Abel_Pacheco", 1, "Abel_Pacheco", 4, True, 0, 2)
    assert pairs[2] == Pair("Abdel_Madi_Shabneh", 1, "Dean_Barker", 1, False, 0, 4)
    assert pairs[6] == Pair("Bill_Gates", 1, "George_W_Bush", 530, False, 1, 8)
    assert [pair.fold for pair in pairs] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [pair.same for pair in pairs] == [True, True, False, False] * 2


def test_write_then_read_round_trips_byte_identically(tmp_path: Path) -> None:
    source = write_text(tmp_path, LFW_LIKE_HEAD)
    pairs = read_pairs(source)
    copy = tmp_path / "copy.txt"
    write_pairs(copy, pairs, n_sets=2, n_per_set=2)
    assert copy.read_bytes() == LFW_LIKE_HEAD.encode()
    assert read_pairs(copy) == pairs


def test_generated_lfw_view2_file_has_6001_lines_and_round_trips(tmp_path: Path) -> None:
    pairs = make_pairs(lfw_sized_pool(), n_sets=10, n_per_set=300, seed=0)
    path = tmp_path / "pairs.txt"
    write_pairs(path, pairs, n_sets=10, n_per_set=300)
    data = path.read_bytes()
    lines = data.decode().split("\n")
    assert data.endswith(b"\n") and lines[-1] == ""
    assert len(lines) - 1 == 1 + 10 * 2 * 300
    assert lines[0] == "10\t300"
    assert [len(line.split("\t")) for line in lines[1:601]] == [3] * 300 + [4] * 300
    assert read_pairs(path) == pairs
    rewritten = tmp_path / "rewritten.txt"
    write_pairs(rewritten, read_pairs(path), n_sets=10, n_per_set=300)
    assert rewritten.read_bytes() == data


def replace_line(text: str, line_number: int, new_line: str | None) -> str:
    """Replace (or with None, delete) the 1-based line ``line_number`` of ``text``."""
    lines = text.split("\n")
    if new_line is None:
        del lines[line_number - 1]
    else:
        lines[line_number - 1] = new_line
    return "\n".join(lines)


MALFORMED_CASES = {
    "header with one tab too many": (replace_line(LFW_LIKE_HEAD, 1, "2\t2\t2"), 1, "header"),
    "header not an integer": (replace_line(LFW_LIKE_HEAD, 1, "two\t2"), 1, "header"),
    "header zero sets": (replace_line(LFW_LIKE_HEAD, 1, "0\t2"), 1, "header"),
    "empty file": ("", 1, "header"),
    "matched line with 2 fields": (
        replace_line(LFW_LIKE_HEAD, 3, "Akhmed_Zakayev\t1"),
        3,
        "matched",
    ),
    "mismatched where matched expected": (
        replace_line(LFW_LIKE_HEAD, 3, "Ann\t1\tBob\t2"),
        3,
        r"matched pair 2/2 of set 1.*a mismatched line",
    ),
    "matched where mismatched expected": (
        replace_line(LFW_LIKE_HEAD, 4, "Ann\t1\t2"),
        4,
        r"mismatched pair 1/2 of set 1.*a matched line",
    ),
    "non-integer image number": (
        replace_line(LFW_LIKE_HEAD, 2, "Abel_Pacheco\tone\t4"),
        2,
        "positive integer",
    ),
    "image number zero": (
        replace_line(LFW_LIKE_HEAD, 6, "Ben_Curtis\t0\t3"),
        6,
        "positive integer",
    ),
    "negative image number": (
        replace_line(LFW_LIKE_HEAD, 9, "Carlos_Moya\t3\tZico\t-1"),
        9,
        "positive integer",
    ),
    "zero-padded image number": (
        replace_line(LFW_LIKE_HEAD, 2, "Abel_Pacheco\t0001\t4"),
        2,
        "unpadded",
    ),
    "space instead of tab": (
        replace_line(LFW_LIKE_HEAD, 7, "Bill_Clinton 10 12"),
        7,
        "1 TAB-separated",
    ),
    "same image twice in a matched pair": (
        replace_line(LFW_LIKE_HEAD, 7, "Bill_Clinton\t10\t10"),
        7,
        "twice",
    ),
    "same person in a mismatched pair": (
        replace_line(LFW_LIKE_HEAD, 8, "Zico\t1\tZico\t2"),
        8,
        "twice",
    ),
    "empty name": (replace_line(LFW_LIKE_HEAD, 5, "\t1\tDean_Barker\t1"), 5, "empty"),
    "blank line inside": (replace_line(LFW_LIKE_HEAD, 6, ""), 6, "matched pair 1/2 of set 2"),
    "file one line short": (replace_line(LFW_LIKE_HEAD, 9, None), 9, "ends after line 8"),
    "one extra line": (LFW_LIKE_HEAD + "Zico\t1\t2\n", 10, "end of the file"),
    "header announcing more per set": (
        replace_line(LFW_LIKE_HEAD, 1, "2\t3"),
        4,
        "matched pair 3/3 of set 1",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_CASES))
def test_read_pairs_rejects_malformed_file_naming_file_and_line(tmp_path: Path, case: str) -> None:
    text, line_number, expectation = MALFORMED_CASES[case]
    path = write_text(tmp_path, text)
    with pytest.raises(PairsFormatError) as error:
        read_pairs(path)
    message = str(error.value)
    assert message.startswith(f"{path}: line {line_number}:"), message
    assert re.search(expectation, message), message
    assert isinstance(error.value, ValueError)


def test_read_pairs_accepts_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    expected = read_pairs(write_text(tmp_path, LFW_LIKE_HEAD))
    assert read_pairs(write_text(tmp_path, LFW_LIKE_HEAD.replace("\n", "\r\n"))) == expected
    assert read_pairs(write_text(tmp_path, LFW_LIKE_HEAD.rstrip("\n"))) == expected


def test_read_pairs_reads_view1_one_number_header_as_one_set(tmp_path: Path) -> None:
    text = "1\nAbel_Pacheco\t1\t4\nBill_Gates\t1\tZico\t2\n"
    pairs = read_pairs(write_text(tmp_path, text))
    assert [(pair.fold, pair.same) for pair in pairs] == [(0, True), (0, False)]


def test_write_pairs_rejects_wrong_order_and_counts(tmp_path: Path) -> None:
    pairs = read_pairs(write_text(tmp_path, LFW_LIKE_HEAD))
    with pytest.raises(ValueError, match="need 12"):
        write_pairs(tmp_path / "out.txt", pairs, n_sets=2, n_per_set=3)
    swapped = [pairs[2], pairs[1], pairs[0], *pairs[3:]]
    with pytest.raises(ValueError, match=r"pairs\[0\].*matched before mismatched"):
        write_pairs(tmp_path / "out.txt", swapped, n_sets=2, n_per_set=2)
    bad_number = [Pair("Ann", 0, "Ann", 2, True, 0, 2), *pairs[1:]]
    with pytest.raises(ValueError, match=">= 1"):
        write_pairs(tmp_path / "out.txt", bad_number, n_sets=2, n_per_set=2)


def test_pair_image_path_pads_to_four_digits() -> None:
    assert pair_image_path("Abel_Pacheco", 4) == "Abel_Pacheco/Abel_Pacheco_0004.png"
    assert (
        pair_image_path("George_W_Bush", 530, ext="jpg") == "George_W_Bush/George_W_Bush_0530.jpg"
    )
    with pytest.raises(ValueError, match="1-based"):
        pair_image_path("Zico", 0)


def test_make_pairs_sets_are_identity_disjoint_and_pairs_distinct() -> None:
    pool = lfw_sized_pool()
    pairs = make_pairs(pool, n_sets=10, n_per_set=300, seed=0)
    assert len(pairs) == 6000
    people_per_fold = [set() for _ in range(10)]
    for index, pair in enumerate(pairs):
        assert pair.fold == index // 600 and pair.same == (index % 600 < 300)
        assert pair.line == index + 2
        assert 1 <= pair.number1 <= pool[pair.name1] and 1 <= pair.number2 <= pool[pair.name2]
        if pair.same:
            assert pair.name1 == pair.name2 and pair.number1 < pair.number2
        else:
            assert pair.name1 < pair.name2
        people_per_fold[pair.fold] |= {pair.name1, pair.name2}
    for fold_a in range(10):
        for fold_b in range(fold_a + 1, 10):
            assert not people_per_fold[fold_a] & people_per_fold[fold_b]
    keys = [(pair.name1, pair.number1, pair.name2, pair.number2) for pair in pairs]
    assert len(set(keys)) == len(keys)
    for fold in range(10):
        block = keys[600 * fold : 600 * fold + 300], keys[600 * fold + 300 : 600 * (fold + 1)]
        assert all(list(part) == sorted(part) for part in block)


def test_make_pairs_spreads_matched_pairs_over_many_people() -> None:
    pairs = make_pairs(lfw_sized_pool(), n_sets=10, n_per_set=300, seed=0)
    matched_people = {pair.name1 for pair in pairs if pair.same}
    assert len(matched_people) >= 390  # nearly every one of the 400 identities with >= 2 images


def test_make_pairs_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    pool = lfw_sized_pool(150)
    first = make_pairs(pool, n_sets=5, n_per_set=100, seed=7)
    assert make_pairs(dict(reversed(list(pool.items()))), n_sets=5, n_per_set=100, seed=7) == first
    assert make_pairs(pool, n_sets=5, n_per_set=100, seed=8) != first


def test_make_pairs_fills_an_exactly_sufficient_pool() -> None:
    pool = {"Ann": 2, "Bob": 2, "Cid": 1, "Dan": 1}  # per set: 1 matched pair, 2 mismatched pairs
    pairs = make_pairs(pool, n_sets=2, n_per_set=1, seed=0)
    assert [(pair.same, pair.fold) for pair in pairs] == [
        (True, 0),
        (False, 0),
        (True, 1),
        (False, 1),
    ]


def test_make_pairs_says_how_much_data_is_needed() -> None:
    with pytest.raises(ValueError, match=r"at least 3000 distinct same-person image pairs"):
        make_pairs({f"P{index}": 3 for index in range(100)}, n_sets=10, n_per_set=300)
    with pytest.raises(ValueError, match=r"at least 20 identities"):
        make_pairs({f"P{index}": 50 for index in range(15)}, n_sets=10, n_per_set=5)
    with pytest.raises(ValueError, match=r"at least 10 identities with >= 2 images"):
        make_pairs({**{f"P{index}": 1 for index in range(30)}, "Big": 500}, n_sets=10, n_per_set=5)
    with pytest.raises(ValueError, match=r"set \d+ got .* needs 300"):
        make_pairs({**{f"P{index}": 2 for index in range(40)}, "Big": 500}, n_sets=2, n_per_set=300)


def clip_pool(n_identities: int = 60, clips: int = 3, frames: int = 6) -> dict[str, list[str]]:
    """SynthFaces-shaped scene groups: every identity has ``clips`` clips of ``frames`` images."""
    return {
        f"id{index:05d}": [f"clip{clip}" for clip in range(clips) for _ in range(frames)]
        for index in range(n_identities)
    }


def scene_of(groups: dict[str, list[str]], name: str, number: int) -> str:
    return groups[name][number - 1]


def test_scene_pairs_never_match_two_images_of_one_scene() -> None:
    groups = clip_pool()
    counts = {name: len(g) for name, g in groups.items()}
    drawn = make_scene_pairs(counts, groups, n_sets=10, n_per_set=40, seed=0)
    assert drawn.identities_without_cross_scene_pair == ()
    cross, same = drawn.cross_scene, drawn.same_scene
    assert len(cross) == len(same) == 10 * 2 * 40
    for pair in cross:
        if pair.same:
            assert scene_of(groups, pair.name1, pair.number1) != scene_of(
                groups, pair.name1, pair.number2
            )
    for pair in same:
        if pair.same:
            assert scene_of(groups, pair.name1, pair.number1) == scene_of(
                groups, pair.name1, pair.number2
            )
    # The twin differs only in its matched pairs: same sets, same mismatched lines.
    assert [p for p in cross if not p.same] == [p for p in same if not p.same]
    for fold in range(10):
        people = {p.name1 for p in cross if p.fold == fold} | {
            p.name2 for p in cross if p.fold == fold
        }
        assert {p.name1 for p in same if p.fold == fold and p.same} <= people
    keys = [(p.name1, p.number1, p.number2) for p in cross if p.same]
    assert len(set(keys)) == len(keys) and all(n1 < n2 for _, n1, n2 in keys)
    assert make_pairs(counts, 10, 40, 0, scene_groups=groups) == cross


def test_scene_pairs_are_deterministic_and_seeded(tmp_path: Path) -> None:
    groups = clip_pool()
    counts = {name: len(g) for name, g in groups.items()}
    first = make_scene_pairs(counts, groups, n_sets=5, n_per_set=30, seed=3)
    reordered = dict(reversed(list(groups.items())))
    again = make_scene_pairs(
        {name: len(g) for name, g in reordered.items()}, reordered, n_sets=5, n_per_set=30, seed=3
    )
    assert again == first
    assert make_scene_pairs(counts, groups, n_sets=5, n_per_set=30, seed=4) != first
    write_pairs(tmp_path / "cross.txt", first.cross_scene, 5, 30)
    assert read_pairs(tmp_path / "cross.txt") == first.cross_scene


def test_identity_with_one_scene_gives_no_matched_pair_and_is_counted() -> None:
    groups = clip_pool(40)
    for name in ("id00000", "id00001", "id00002"):
        groups[name] = ["clip0"] * 6  # six images of one clip: no cross-scene pair
    groups["id00003"] = ["clip0"]  # one image: no matched pair of any kind, not counted
    counts = {name: len(g) for name, g in groups.items()}
    drawn = make_scene_pairs(counts, groups, n_sets=4, n_per_set=20, seed=0)
    assert drawn.identities_without_cross_scene_pair == ("id00000", "id00001", "id00002")
    matched_people = {p.name1 for p in drawn.cross_scene if p.same}
    assert not matched_people & {"id00000", "id00001", "id00002", "id00003"}
    everyone = {p.name1 for p in drawn.cross_scene} | {p.name2 for p in drawn.cross_scene}
    assert "id00000" in everyone  # still in a set: it gives mismatched pairs


def test_too_few_cross_scene_pairs_names_the_config_keys() -> None:
    groups = {f"id{index:05d}": ["a"] * 4 + ["b"] for index in range(20)}  # 4 cross pairs each
    groups.update({f"one{index}": ["a"] * 5 for index in range(7)})
    counts = {name: len(g) for name, g in groups.items()}
    with pytest.raises(ValueError) as error:
        make_scene_pairs(counts, groups, n_sets=10, n_per_set=9, config_key="synthfaces.pairs")
    message = str(error.value)
    assert "at least 90 distinct cross-scene matched pairs" in message and "has 80" in message
    assert "7 identities have all their images in one scene group" in message
    assert "synthfaces.pairs.sets" in message and "synthfaces.pairs.per_set" in message
    with pytest.raises(ValueError, match=r"at least 10 identities with images in two scene"):
        make_scene_pairs(counts, {n: ["a"] * c for n, c in counts.items()}, n_sets=10, n_per_set=1)
    with pytest.raises(ValueError, match=r"4 images but 3 scene groups"):
        make_scene_pairs({"Ann": 4, "Bob": 2}, {"Ann": [1, 1, 2], "Bob": [1, 2]}, 1, 1)


def test_write_scene_pairs_writes_both_files_and_the_meta_entry(tmp_path: Path) -> None:
    groups = clip_pool(30, clips=2, frames=4)
    entry = write_scene_pairs(tmp_path, groups, {"sets": 3, "per_set": 12, "seed": 0})
    assert entry == {
        "cross_scene": True,
        "same_scene_pairs_file": SAME_SCENE_PAIRS_FILE,
        "identities_without_cross_scene_pair": 0,
    }
    cross, same = read_pairs(tmp_path / "pairs.txt"), read_pairs(tmp_path / SAME_SCENE_PAIRS_FILE)
    assert len(cross) == len(same) == 3 * 2 * 12
    # Three clips of two images: 3 same-scene pairs per person, 30 per set of 10 people.
    sparse = clip_pool(30, clips=3, frames=2)
    entry = write_scene_pairs(tmp_path, sparse, {"sets": 3, "per_set": 35, "seed": 0})
    assert entry["same_scene_pairs_file"] is None
    assert entry["same_scene_unavailable"] == "set 1 has 30 same-scene matched pairs, 35 needed"
    assert not (tmp_path / SAME_SCENE_PAIRS_FILE).exists()


def test_scene_groups_per_identity_orders_by_image_number() -> None:
    groups = scene_groups_per_identity(["B", "A", "A", "B"], [2, 2, 1, 1], [7, 1, 0, 6])
    assert groups == {"A": [0, 1], "B": [6, 7]}
    with pytest.raises(ValueError, match=r"'A': image numbers must be 1..2"):
        scene_groups_per_identity(["A", "A"], [1, 3], [0, 0])


def brute_force_split_exists(counts: dict[str, int], n_sets: int, n_per_set: int) -> bool:
    """Reference: try every assignment of identities to sets (small pools only)."""
    names = sorted(counts)
    for labels in itertools.product(range(n_sets), repeat=len(names)):
        fits = True
        for fold in range(n_sets):
            group = [counts[n] for n, label in zip(names, labels, strict=True) if label == fold]
            matched = sum(math.comb(c, 2) for c in group)
            mismatched = (sum(group) ** 2 - sum(c * c for c in group)) // 2
            fits = fits and min(matched, mismatched) >= n_per_set
        if fits:
            return True
    return False


def test_make_pairs_finds_the_split_the_balanced_deal_misses() -> None:
    counts = {"a": 5, "b": 3, "c": 3, "d": 3}  # the deal gives {a} | {b, c, d}: no split
    for seed in range(10):
        pairs = make_pairs(counts, n_sets=2, n_per_set=1, seed=seed)
        people = [{n for p in pairs if p.fold == f for n in (p.name1, p.name2)} for f in (0, 1)]
        assert not people[0] & people[1] and all(len(group) == 2 for group in people)
        assert sum(p.same for p in pairs) == 2 and len(pairs) == 4


def test_exact_split_agrees_with_a_brute_force_search() -> None:
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(150):
        counts = {f"P{i}": int(c) for i, c in enumerate(rng.integers(1, 7, rng.integers(4, 8)))}
        n_sets, n_per_set = int(rng.integers(2, 4)), int(rng.integers(1, 12))
        found = exact_split(counts, n_sets, n_per_set)
        assert (found is not None) == brute_force_split_exists(counts, n_sets, n_per_set), counts
        if found is not None:
            assert sorted(n for g in found for n in g) == sorted(counts)
        outcomes.add(found is not None)
    assert outcomes == {True, False}  # both answers were exercised


def test_largest_protocol_is_the_most_pairs_any_split_allows() -> None:
    rng = np.random.default_rng(1)
    for _ in range(25):
        counts = {f"P{i}": int(c) for i, c in enumerate(rng.integers(1, 6, rng.integers(4, 7)))}
        reference = max(
            (
                (s * p, s)
                for s in (2, 3)
                for p in range(1, 40)
                if brute_force_split_exists(counts, s, p)
            ),
            default=None,
        )
        chosen = largest_protocol(counts, limit=(3, 300))
        assert (None if chosen is None else (chosen[0] * chosen[1], chosen[0])) == reference
    assert largest_protocol({"a": 5, "b": 3, "c": 3}) is None  # 2 sets need 4 people
    assert largest_protocol({f"P{i}": 40 for i in range(30)}) == (10, 300)  # LFW's size caps it
    assert largest_protocol({"a": 5, "b": 3, "c": 3, "d": 3}, n_per_set=2) == (2, 2)
