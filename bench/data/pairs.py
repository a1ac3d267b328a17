"""LFW ``pairs.txt``: strict reader, writer, View-2-like generator and image file names.

Format (LFW View 2): a header ``<n_sets>\\t<n_per_set>`` (LFW: ``10\\t300``), then for each
set ``n_per_set`` matched lines ``name\\tn1\\tn2`` followed by ``n_per_set`` mismatched lines
``name1\\tn1\\tname2\\tn2``; TAB separated, 1-based unpadded image numbers, trailing newline.
Set k of the file is fold k (0-based) of the 10-fold protocol.

With scene groups (the clip or session of every image), :func:`make_scene_pairs` draws
matched pairs only across scene groups, as LFW's matched pairs are different photos, and a
diagnostic file whose matched pairs share a scene group (same sets, same mismatched pairs).
"""

import math
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

_IMAGE_NUMBER = re.compile(r"[1-9][0-9]*")
_NAME = re.compile(r"\S+")
_MATCHED_FIELDS = 3
_MISMATCHED_FIELDS = 4
_MATCHED_LAYOUT = "'name<TAB>n1<TAB>n2' (3 fields)"
_MISMATCHED_LAYOUT = "'name1<TAB>n1<TAB>name2<TAB>n2' (4 fields)"


class PairsFormatError(ValueError):
    """A pairs file that does not follow the LFW ``pairs.txt`` format."""


@dataclass(frozen=True)
class Pair:
    """One verification pair; ``line`` is its 1-based line number in the pairs file."""

    name1: str
    number1: int
    name2: str
    number2: int
    same: bool
    fold: int
    line: int


def pair_image_path(name: str, number: int, ext: str = "png") -> str:
    """LFW-style relative image path ``<name>/<name>_<NNNN>.<ext>`` (1-based, 4-digit padded)."""
    if number < 1:
        raise ValueError(f"LFW image numbers are 1-based, got {number} for {name!r}.")
    return f"{name}/{name}_{number:04d}.{ext.lstrip('.')}"


def read_pairs(path: str | PathLike) -> list[Pair]:
    """Read an LFW ``pairs.txt`` strictly; any deviation raises ``PairsFormatError`` with its line.

    Besides the View 2 header ``<n_sets>\\t<n_per_set>``, the one-number header of LFW's View 1
    files (``pairsDevTrain.txt``: ``1100``) is read as a single set (fold 0). Windows line ends
    are accepted; a missing final newline is accepted.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not lines:
        raise PairsFormatError(
            f"{path}: line 1: expected the header '<n_sets><TAB><n_per_set>', got an empty file."
        )
    n_sets, n_per_set = _parse_header(path, lines[0])
    expected_line_count = 1 + n_sets * 2 * n_per_set
    pairs = []
    for line_number, (fold, same, index_in_block) in enumerate(
        _expected_layout(n_sets, n_per_set), start=2
    ):
        if line_number > len(lines):
            slot = _describe_slot(fold, same, index_in_block, n_per_set)
            raise PairsFormatError(
                f"{path}: line {line_number}: expected {slot}, "
                f"but the file ends after line {len(lines)}; the header {n_sets}x{n_per_set} "
                f"needs {expected_line_count} lines."
            )
        pairs.append(
            _parse_pair_line(
                path, lines[line_number - 1], line_number, fold, same, index_in_block, n_per_set
            )
        )
    if len(lines) > expected_line_count:
        raise PairsFormatError(
            f"{path}: line {expected_line_count + 1}: expected the end of the file (the header "
            f"{n_sets}x{n_per_set} gives {expected_line_count} lines), found "
            f"{len(lines) - expected_line_count} more line(s); fix the header or remove them."
        )
    return pairs


def write_pairs(path: str | PathLike, pairs: Sequence[Pair], n_sets: int, n_per_set: int) -> None:
    """Write pairs in the exact LFW ``pairs.txt`` format, after checking their order and counts."""
    if n_sets < 1 or n_per_set < 1:
        raise ValueError(
            f"write_pairs needs n_sets >= 1 and n_per_set >= 1, got {n_sets}, {n_per_set}."
        )
    if len(pairs) != n_sets * 2 * n_per_set:
        raise ValueError(
            f"write_pairs got {len(pairs)} pairs but {n_sets} sets x (2 x {n_per_set}) need "
            f"{n_sets * 2 * n_per_set}."
        )
    lines = [f"{n_sets}\t{n_per_set}"]
    for position, (pair, (fold, same, index_in_block)) in enumerate(
        zip(pairs, _expected_layout(n_sets, n_per_set), strict=True)
    ):
        slot = _describe_slot(fold, same, index_in_block, n_per_set)
        if pair.fold != fold or pair.same != same:
            raise ValueError(
                f"write_pairs: pairs[{position}] (fold {pair.fold}, same={pair.same}) is in the "
                f"place of {slot}; order pairs by fold, matched before mismatched."
            )
        _check_pair_content(pair, f"pairs[{position}]")
        if same:
            lines.append(f"{pair.name1}\t{pair.number1}\t{pair.number2}")
        else:
            lines.append(f"{pair.name1}\t{pair.number1}\t{pair.name2}\t{pair.number2}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def make_pairs(
    images_per_identity: dict[str, int],
    n_sets: int = 10,
    n_per_set: int = 300,
    seed: int = 0,
    scene_groups: Mapping[str, Sequence[Hashable]] | None = None,
    config_key: str = "pairs",
) -> list[Pair]:
    """Draw a View-2-like protocol: identity-disjoint sets of distinct matched/mismatched pairs.

    Identities are dealt into ``n_sets`` disjoint groups (people never cross sets), balancing
    the number of possible matched pairs; seed-shuffled order breaks ties. In each set,
    matched pairs go round-robin over a shuffled list of its people with >= 2 images (so many
    people appear, not only the largest), and mismatched pairs take a random pair of people
    and one random image of each. Pairs are unique up to order, stored with
    ``number1 < number2`` (matched) and ``name1 < name2`` (mismatched), and sorted within each
    block. Identities with 0 images are ignored. When the balanced deal leaves a set short,
    :func:`exact_split` searches every assignment of identities to sets, so the draw fails
    only when no split exists ({a: 5, b: 3, c: 3, d: 3} with 2 sets of 1 pair: the deal
    gives {a} | {b, c, d}, the search {a, d} | {b, c}).

    ``scene_groups`` (the scene group of each image number 1..n of each identity: its clip
    or session) makes every matched pair cross scene groups: the cross-scene file of
    :func:`make_scene_pairs`; its errors name ``<config_key>.sets`` and
    ``<config_key>.per_set``. Without it the pairs are exactly those of earlier versions.
    """
    if scene_groups is not None:
        return make_scene_pairs(
            images_per_identity, scene_groups, n_sets, n_per_set, seed, config_key
        ).cross_scene
    _check_settings(images_per_identity, n_sets, n_per_set)
    counts = {name: int(count) for name, count in images_per_identity.items() if count > 0}
    _check_pool_size(counts, n_sets, n_per_set)
    rng = np.random.default_rng(seed)
    groups = _split_identities(counts, n_sets, rng)
    if not all(_group_fills_a_set(group, counts, n_per_set) for group in groups):
        groups = exact_split(counts, n_sets, n_per_set) or groups  # the deal gave up: search
    pairs: list[Pair] = []
    for fold, group in enumerate(groups):
        _check_group_size(group, counts, fold, n_per_set)
        matched = sorted(_draw_matched(group, counts, n_per_set, rng))
        mismatched = sorted(_draw_mismatched(group, counts, n_per_set, rng))
        _append_set(pairs, fold, matched, mismatched)
    return pairs


#: Nodes the exact split may visit before it gives up (a few seconds of Python); sizing a
#: protocol tries many sizes, each with a smaller budget.
EXACT_SPLIT_NODES = 200_000
SIZING_NODES = 5_000
#: The largest protocol sized from the data: LFW View 2's 10 sets of 300 pairs.
MAX_PROTOCOL = (10, 300)


class _SearchLimit(Exception):
    """The exact split visited :data:`EXACT_SPLIT_NODES` nodes without an answer."""


def _group_fills_a_set(group: Sequence[str], counts: Mapping[str, int], n_per_set: int) -> bool:
    """Whether one identity group offers ``n_per_set`` matched and mismatched pairs."""
    matched = sum(_matched_capacity(counts[name]) for name in group)
    return min(matched, _mismatched_capacity([counts[name] for name in group])) >= n_per_set


def exact_split(
    counts: Mapping[str, int], n_sets: int, n_per_set: int, max_nodes: int = EXACT_SPLIT_NODES
) -> list[list[str]] | None:
    """Identity groups, one per set, each filling a set of ``n_per_set`` pairs; None if none.

    Depth-first over identities (most images first), each into every set whose state differs
    (sets in the same state are interchangeable, so one is tried), pruned when the remaining
    identities cannot cover the sets' missing matched pairs or head count. Exhaustive, so
    None means no split exists; pools too large to search (more than ``max_nodes`` nodes)
    also give None, and the caller's error names the set that falls short.
    """
    names = sorted((n for n in counts if counts[n] > 0), key=lambda n: (-counts[n], n))
    if len(names) < 2 * n_sets:
        return None
    left = np.cumsum([_matched_capacity(counts[n]) for n in names][::-1])[::-1].tolist() + [0]
    groups: list[list[str]] = [[] for _ in range(n_sets)]
    state = [[0, 0, 0] for _ in range(n_sets)]  # matched capacity, images, squared images
    visited = [0]

    def place(position: int) -> bool:
        visited[0] += 1
        if visited[0] > max_nodes:
            raise _SearchLimit
        if position == len(names):
            return all(_group_fills_a_set(g, counts, n_per_set) for g in groups)
        short = sum(max(0, n_per_set - s[0]) for s in state)
        heads = sum(max(0, 2 - len(g)) for g in groups)
        if left[position] < short or len(names) - position < heads:
            return False
        name, count = names[position], counts[names[position]]
        tried = set()
        for k in sorted(range(n_sets), key=lambda k: (state[k][0], len(groups[k]), k)):
            key = (*state[k], len(groups[k]))
            if key in tried:
                continue
            tried.add(key)
            change = (_matched_capacity(count), count, count * count)
            state[k] = [a + b for a, b in zip(state[k], change, strict=True)]
            groups[k].append(name)
            if place(position + 1):
                return True
            groups[k].pop()
            state[k] = [a - b for a, b in zip(state[k], change, strict=True)]
        return False

    try:
        return groups if place(0) else None
    except (_SearchLimit, RecursionError):
        return None


def protocol_fits(counts: Mapping[str, int], n_sets: int, n_per_set: int) -> bool:
    """Whether :func:`make_pairs` can draw ``n_sets`` sets of ``n_per_set`` pairs of each kind."""
    counts = {name: int(count) for name, count in counts.items() if count > 0}
    if len(counts) < 2 * n_sets or n_sets < 1 or n_per_set < 1:
        return False
    groups = _split_identities(counts, n_sets, np.random.default_rng(0))
    if all(_group_fills_a_set(group, counts, n_per_set) for group in groups):
        return True
    return exact_split(counts, n_sets, n_per_set, SIZING_NODES) is not None


def largest_protocol(
    counts: Mapping[str, int],
    n_sets: int | None = None,
    n_per_set: int | None = None,
    limit: tuple[int, int] = MAX_PROTOCOL,
    min_sets: int = 2,
) -> tuple[int, int] | None:
    """The (sets, pairs per set) with the most pairs that ``counts`` can fill, up to ``limit``.

    A given ``n_sets`` or ``n_per_set`` is kept and only the other is sized; ties go to more
    sets (more folds for the threshold). None when not even ``min_sets`` sets of 1 pair fit.
    """
    best = None
    sets_range = [n_sets] if n_sets else range(min_sets, limit[0] + 1)
    for sets in sets_range:
        if n_per_set:
            per_set = n_per_set if protocol_fits(counts, sets, n_per_set) else 0
        else:
            low, high = 0, limit[1]  # the largest per_set that fits, by bisection
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (
                    (middle, high) if protocol_fits(counts, sets, middle) else (low, middle - 1)
                )
            per_set = low
        if per_set and (best is None or sets * per_set >= best[0] * best[1]):
            best = (sets, per_set)
    return best


@dataclass(frozen=True)
class ScenePairs:
    """The pairs of :func:`make_scene_pairs`: the protocol's file and its same-scene twin.

    ``cross_scene``: every matched pair joins two scene groups (``pairs.txt``).
    ``same_scene``: the same identity sets and the same mismatched pairs, but every matched
    pair inside one scene group (a diagnostic: what a code reads from the scene); ``None``
    where some set cannot fill it, with the reason in ``same_scene_unavailable``.
    ``identities_without_cross_scene_pair``: identities with >= 2 images, all in one scene
    group, which can give no matched pair to ``cross_scene``.
    """

    cross_scene: list[Pair]
    same_scene: list[Pair] | None
    identities_without_cross_scene_pair: tuple[str, ...]
    same_scene_unavailable: str | None = None


def make_scene_pairs(
    images_per_identity: dict[str, int],
    scene_groups: Mapping[str, Sequence[Hashable]],
    n_sets: int = 10,
    n_per_set: int = 300,
    seed: int = 0,
    config_key: str = "pairs",
) -> ScenePairs:
    """Matched pairs across scene groups (and, as a diagnostic, within them), LFW View 2 layout.

    ``scene_groups[name][i]`` is the scene group (clip, session: one background and light)
    of image number ``i + 1`` of ``name``. Identities are dealt into sets balancing their
    cross-scene capacity; each set's matched pairs go round-robin over its people with a
    cross-scene pair, each drawn uniformly among that person's distinct cross-scene image
    pairs; mismatched pairs are drawn as in :func:`make_pairs`. The same-scene twin reuses
    the sets and mismatched pairs and draws its matched pairs from another seeded stream,
    so the cross-scene file does not depend on it. Too few cross-scene pairs is a
    ValueError naming ``<config_key>.sets`` and ``<config_key>.per_set``.
    """
    _check_settings(images_per_identity, n_sets, n_per_set)
    counts = {name: int(count) for name, count in images_per_identity.items() if count > 0}
    labels = _scene_labels(counts, scene_groups)
    cross = {name: _scene_index_pairs(labels[name], across=True) for name in counts}
    within = {name: _scene_index_pairs(labels[name], across=False) for name in counts}
    cross_capacity = {name: len(pairs) for name, pairs in cross.items()}
    without = tuple(
        sorted(name for name in counts if counts[name] >= 2 and cross_capacity[name] == 0)
    )
    _check_scene_pool_size(counts, cross_capacity, without, n_sets, n_per_set, config_key)
    rng = np.random.default_rng(seed)
    sets = _split_identities(counts, n_sets, rng, cross_capacity)
    cross_pairs: list[Pair] = []
    mismatched_of_set = []
    for fold, people in enumerate(sets):
        _check_scene_set_size(people, counts, cross_capacity, fold, n_per_set, config_key)
        matched = sorted(_draw_matched_from(people, cross, n_per_set, rng))
        mismatched = sorted(_draw_mismatched(people, counts, n_per_set, rng))
        mismatched_of_set.append(mismatched)
        _append_set(cross_pairs, fold, matched, mismatched)
    same_rng = np.random.default_rng([seed, 1])
    same_pairs: list[Pair] | None = []
    unavailable = None
    for fold, people in enumerate(sets):
        capacity = sum(len(within[name]) for name in people)
        if capacity < n_per_set:
            same_pairs = None
            unavailable = (
                f"set {fold + 1} has {capacity} same-scene matched pairs, {n_per_set} needed"
            )
            break
        matched = sorted(_draw_matched_from(people, within, n_per_set, same_rng))
        _append_set(same_pairs, fold, matched, mismatched_of_set[fold])
    return ScenePairs(cross_pairs, same_pairs, without, unavailable)


def scene_groups_per_identity(
    names: Sequence[str], numbers: Sequence[int], groups: Sequence[Hashable]
) -> dict[str, list[Hashable]]:
    """``{name: [scene group of image 1, 2, ...]}`` from one row per image (any row order).

    Every identity's image numbers must be exactly 1..n (the LFW numbering of pairs files).
    """
    if not len(names) == len(numbers) == len(groups):
        raise ValueError(
            f"scene_groups_per_identity needs one name, number and group per image, got "
            f"{len(names)}, {len(numbers)} and {len(groups)}."
        )
    by_name: dict[str, dict[int, Hashable]] = {}
    for name, number, group in zip(names, numbers, groups, strict=True):
        by_name.setdefault(str(name), {})[int(number)] = group
    out = {}
    for name, numbered in by_name.items():
        if sorted(numbered) != list(range(1, len(numbered) + 1)):
            raise ValueError(
                f"identity {name!r}: image numbers must be 1..{len(numbered)} without gaps "
                "or repeats to map scene groups onto pairs lines."
            )
        out[name] = [numbered[number] for number in range(1, len(numbered) + 1)]
    return out


#: The diagnostic twin of ``pairs.txt`` beside it: matched pairs inside one scene group.
SAME_SCENE_PAIRS_FILE = "pairs_same_scene.txt"


def write_scene_pairs(
    out_dir: str | PathLike,
    scene_groups: Mapping[str, Sequence[Hashable]],
    settings: Mapping[str, int],
    config_key: str = "pairs",
) -> dict[str, object]:
    """Write ``pairs.txt`` (cross-scene matched pairs) and ``pairs_same_scene.txt``.

    ``scene_groups``: every identity of the split to draw over, with the scene group of each
    of its image numbers 1..n; ``settings``: ``sets``, ``per_set`` and ``seed`` (the config
    section ``config_key``). Returns the ``pairs`` entry of ``meta.json``. Where the
    same-scene twin cannot be filled, no such file is left and the entry says why.
    """
    out_dir = Path(out_dir)
    drawn = make_scene_pairs(
        {name: len(groups) for name, groups in scene_groups.items()},
        scene_groups,
        settings["sets"],
        settings["per_set"],
        settings["seed"],
        config_key,
    )
    write_pairs(out_dir / "pairs.txt", drawn.cross_scene, settings["sets"], settings["per_set"])
    same_path = out_dir / SAME_SCENE_PAIRS_FILE
    entry: dict[str, object] = {
        "cross_scene": True,
        "same_scene_pairs_file": None,
        "identities_without_cross_scene_pair": len(drawn.identities_without_cross_scene_pair),
    }
    if drawn.same_scene is None:
        same_path.unlink(missing_ok=True)
        entry["same_scene_unavailable"] = drawn.same_scene_unavailable
    else:
        write_pairs(same_path, drawn.same_scene, settings["sets"], settings["per_set"])
        entry["same_scene_pairs_file"] = SAME_SCENE_PAIRS_FILE
    return entry


def _check_settings(images_per_identity: dict[str, int], n_sets: int, n_per_set: int) -> None:
    """Raise ValueError for impossible set sizes, bad names or negative image counts."""
    if n_sets < 1 or n_per_set < 1:
        raise ValueError(
            f"make_pairs needs n_sets >= 1 and n_per_set >= 1, got {n_sets}, {n_per_set}."
        )
    for name, count in images_per_identity.items():
        _check_name(name, "make_pairs identity name")
        if count < 0:
            raise ValueError(f"make_pairs: identity {name!r} has a negative image count {count}.")


def _append_set(
    pairs: list[Pair],
    fold: int,
    matched: list[tuple[str, int, int]],
    mismatched: list[tuple[str, int, str, int]],
) -> None:
    """Append one set's matched then mismatched pairs, numbering their file lines."""
    for name, number1, number2 in matched:
        pairs.append(Pair(name, number1, name, number2, True, fold, 2 + len(pairs)))
    for name1, number1, name2, number2 in mismatched:
        pairs.append(Pair(name1, number1, name2, number2, False, fold, 2 + len(pairs)))


def _expected_layout(n_sets: int, n_per_set: int) -> Iterator[tuple[int, bool, int]]:
    """Yield (fold, same, index within its block) for each pair line in file order."""
    for fold in range(n_sets):
        for same in (True, False):
            for index_in_block in range(n_per_set):
                yield fold, same, index_in_block


def _describe_slot(fold: int, same: bool, index_in_block: int, n_per_set: int) -> str:
    """Human-readable description of what a given pair line must be."""
    kind, layout = ("matched", _MATCHED_LAYOUT) if same else ("mismatched", _MISMATCHED_LAYOUT)
    return f"{kind} pair {index_in_block + 1}/{n_per_set} of set {fold + 1} as {layout}"


def _parse_header(path: Path, header: str) -> tuple[int, int]:
    """Parse ``<n_sets>\\t<n_per_set>`` (or View 1's ``<n_per_set>``) into positive integers."""
    fields = header.split("\t")
    if len(fields) in (1, 2) and all(_IMAGE_NUMBER.fullmatch(field) for field in fields):
        numbers = [int(field) for field in fields]
        return (1, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    raise PairsFormatError(
        f"{path}: line 1: expected the header '<n_sets><TAB><n_per_set>' with positive integers "
        f"(LFW View 2: '10<TAB>300'), got {header!r}."
    )


def _parse_pair_line(
    path: Path,
    text: str,
    line_number: int,
    fold: int,
    same: bool,
    index_in_block: int,
    n_per_set: int,
) -> Pair:
    """Parse one pair line that must fill the given slot of the file layout."""
    slot = _describe_slot(fold, same, index_in_block, n_per_set)
    where = f"{path}: line {line_number}"
    fields = text.split("\t")
    expected_fields = _MATCHED_FIELDS if same else _MISMATCHED_FIELDS
    if len(fields) != expected_fields:
        found = {3: " (a matched line)", 4: " (a mismatched line)"}.get(len(fields), "")
        raise PairsFormatError(
            f"{where}: expected {slot}, got {len(fields)} TAB-separated field(s){found}: {text!r}."
        )
    if same:
        name1, number1_text, number2_text = fields
        name2 = name1
        name_fields = (name1,)
    else:
        name1, number1_text, name2, number2_text = fields
        name_fields = (name1, name2)
    for name in name_fields:
        if not _NAME.fullmatch(name):
            raise PairsFormatError(
                f"{where}: expected {slot}; the name {name!r} is empty or contains spaces."
            )
    for number_text in (number1_text, number2_text):
        if not _IMAGE_NUMBER.fullmatch(number_text):
            raise PairsFormatError(
                f"{where}: expected {slot}; the image number {number_text!r} is not a 1-based "
                "unpadded positive integer."
            )
    pair = Pair(name1, int(number1_text), name2, int(number2_text), same, fold, line_number)
    if same and pair.number1 == pair.number2:
        raise PairsFormatError(
            f"{where}: expected {slot}; a matched pair needs two different images, got image "
            f"{pair.number1} twice."
        )
    if not same and name1 == name2:
        raise PairsFormatError(
            f"{where}: expected {slot}; a mismatched pair needs two different people, got "
            f"{name1!r} twice."
        )
    return pair


def _check_name(name: str, role: str) -> None:
    """Raise ValueError unless ``name`` is a non-empty string without whitespace."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{role} {name!r} must be a non-empty string without spaces or TABs.")


def _check_pair_content(pair: Pair, label: str) -> None:
    """Raise ValueError if a pair cannot be written as a valid LFW line."""
    _check_name(pair.name1, f"{label}.name1")
    _check_name(pair.name2, f"{label}.name2")
    for number in (pair.number1, pair.number2):
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1:
            raise ValueError(f"{label}: image numbers must be integers >= 1, got {number!r}.")
    if pair.same and (pair.name1 != pair.name2 or pair.number1 == pair.number2):
        raise ValueError(
            f"{label}: a matched pair needs one name and two different image numbers, got {pair}."
        )
    if not pair.same and pair.name1 == pair.name2:
        raise ValueError(f"{label}: a mismatched pair needs two different names, got {pair}.")


def _matched_capacity(image_count: int) -> int:
    """Number of distinct unordered image pairs of one person."""
    return math.comb(image_count, 2)


def _mismatched_capacity(image_counts: Sequence[int]) -> int:
    """Number of distinct (image of person a, image of person b) pairs with a != b."""
    total = sum(image_counts)
    return (total * total - sum(count * count for count in image_counts)) // 2


def _pool_problems(
    identities: int,
    eligible: int,
    matched: int,
    n_sets: int,
    n_per_set: int,
    eligible_words: str,
    matched_words: str,
) -> list[str]:
    """What a pool of identities lacks to fill ``n_sets`` sets of ``n_per_set`` pairs each."""
    problems = []
    if identities < 2 * n_sets:
        problems.append(
            f"at least {2 * n_sets} identities (2 per set for mismatched pairs), got {identities}"
        )
    if eligible < n_sets:
        problems.append(f"at least {n_sets} {eligible_words} (one per set), got {eligible}")
    if matched < n_sets * n_per_set:
        problems.append(
            f"at least {n_sets * n_per_set} {matched_words} "
            f"({n_sets} x {n_per_set}), the pool has {matched}"
        )
    return problems


def _check_pool_size(counts: dict[str, int], n_sets: int, n_per_set: int) -> None:
    """Raise ValueError with the required numbers when the pool cannot fill the protocol."""
    problems = _pool_problems(
        len(counts),
        sum(1 for count in counts.values() if count >= 2),
        sum(_matched_capacity(count) for count in counts.values()),
        n_sets,
        n_per_set,
        "identities with >= 2 images",
        "distinct same-person image pairs",
    )
    if problems:
        raise ValueError(
            f"make_pairs(n_sets={n_sets}, n_per_set={n_per_set}) needs "
            + "; ".join(problems)
            + ". Add identities/images or lower n_sets or n_per_set."
        )


def _split_identities(
    counts: dict[str, int],
    n_sets: int,
    rng: np.random.Generator,
    capacity: dict[str, int] | None = None,
) -> list[list[str]]:
    """Deal identities into disjoint groups, balancing matched-pair capacity, then head count.

    ``capacity`` (default: every unordered image pair of a person) is what a person can give
    to the matched pairs; the largest go first. With the default, sorting by capacity is
    sorting by image count (C(n, 2) grows strictly with n), so the deal is that of earlier
    versions.
    """
    if capacity is None:
        capacity = {name: _matched_capacity(count) for name, count in counts.items()}
    shuffled = [str(name) for name in rng.permutation(sorted(counts))]
    by_capacity = sorted(shuffled, key=lambda name: -capacity[name])  # stable: ties stay shuffled
    groups: list[list[str]] = [[] for _ in range(n_sets)]
    capacities = [0] * n_sets
    for name in by_capacity:
        if capacity[name] >= 1:
            target = min(range(n_sets), key=lambda k: (capacities[k], len(groups[k]), k))
        else:
            target = min(range(n_sets), key=lambda k: (len(groups[k]), k))
        groups[target].append(name)
        capacities[target] += capacity[name]
    return groups


def _check_group_size(group: list[str], counts: dict[str, int], fold: int, n_per_set: int) -> None:
    """Raise ValueError when one identity group cannot supply a full set."""
    matched = sum(_matched_capacity(counts[name]) for name in group)
    mismatched = _mismatched_capacity([counts[name] for name in group])
    if matched < n_per_set or mismatched < n_per_set:
        raise ValueError(
            f"make_pairs: set {fold + 1} got {len(group)} identities offering {matched} distinct "
            f"matched and {mismatched} mismatched pairs, but needs {n_per_set} of each; add "
            "identities with >= 2 images or lower n_per_set or n_sets."
        )


def _round_robin_quota(people: list[str], capacity: dict[str, int], n_pairs: int) -> dict[str, int]:
    """Matched pairs per person: one each in turn, skipping people whose pairs are used up."""
    quota = dict.fromkeys(people, 0)
    assigned = 0
    while assigned < n_pairs:
        for name in people:
            if assigned < n_pairs and quota[name] < capacity[name]:
                quota[name] += 1
                assigned += 1
    return quota


def _draw_matched(
    group: list[str], counts: dict[str, int], n_pairs: int, rng: np.random.Generator
) -> list[tuple[str, int, int]]:
    """Draw distinct (name, n1, n2) same-person pairs, spreading them over the group's people."""
    people = [str(name) for name in rng.permutation(sorted(n for n in group if counts[n] >= 2))]
    capacity = {name: _matched_capacity(counts[name]) for name in people}
    quota = _round_robin_quota(people, capacity, n_pairs)
    drawn = []
    for name in people:
        for index_a, index_b in _distinct_index_pairs(counts[name], quota[name], rng):
            drawn.append((name, index_a + 1, index_b + 1))
    return drawn


def _draw_matched_from(
    group: list[str], candidates: dict[str, np.ndarray], n_pairs: int, rng: np.random.Generator
) -> list[tuple[str, int, int]]:
    """Like :func:`_draw_matched`, over each person's allowed 0-based index pairs ``[m, 2]``."""
    people = [str(name) for name in rng.permutation(sorted(n for n in group if len(candidates[n])))]
    quota = _round_robin_quota(people, {name: len(candidates[name]) for name in people}, n_pairs)
    drawn = []
    for name in people:
        if quota[name] == 0:
            continue
        chosen = rng.choice(len(candidates[name]), size=quota[name], replace=False)
        for index_a, index_b in candidates[name][np.sort(chosen)]:
            drawn.append((name, int(index_a) + 1, int(index_b) + 1))
    return drawn


def _scene_labels(
    counts: dict[str, int], scene_groups: Mapping[str, Sequence[Hashable]]
) -> dict[str, np.ndarray]:
    """Each identity's scene groups as small integers, one per image; checks the lengths."""
    labels = {}
    for name, count in counts.items():
        if name not in scene_groups:
            raise ValueError(f"make_pairs: scene_groups has no entry for identity {name!r}.")
        groups = list(scene_groups[name])
        if len(groups) != count:
            raise ValueError(
                f"make_pairs: identity {name!r} has {count} images but {len(groups)} scene "
                "groups; give the scene group of every image number 1..n."
            )
        codes: dict[Hashable, int] = {}
        labels[name] = np.array([codes.setdefault(g, len(codes)) for g in groups], np.int64)
    return labels


def _scene_index_pairs(labels: np.ndarray, across: bool) -> np.ndarray:
    """Every unordered 0-based image pair ``[m, 2]`` (i < j, sorted) across or within groups."""
    first, second = np.triu_indices(len(labels), k=1)
    keep = (labels[first] != labels[second]) if across else (labels[first] == labels[second])
    return np.stack([first[keep], second[keep]], axis=1)


def _scene_advice(config_key: str) -> str:
    return (
        f"lower {config_key}.sets or {config_key}.per_set in the config, or give the test "
        "identities more scenes (clips or sessions)"
    )


def _check_scene_pool_size(
    counts: dict[str, int],
    cross_capacity: dict[str, int],
    without: tuple[str, ...],
    n_sets: int,
    n_per_set: int,
    config_key: str,
) -> None:
    """Raise ValueError when too few cross-scene matched pairs exist for the protocol."""
    problems = _pool_problems(
        len(counts),
        sum(1 for capacity in cross_capacity.values() if capacity >= 1),
        sum(cross_capacity.values()),
        n_sets,
        n_per_set,
        "identities with images in two scene groups",
        "distinct cross-scene matched pairs",
    )
    if problems:
        raise ValueError(
            f"make_pairs with scene groups (sets={n_sets}, per_set={n_per_set}) needs "
            + "; ".join(problems)
            + f" ({len(without)} identities have all their images in one scene group and give "
            f"no matched pair); {_scene_advice(config_key)}."
        )


def _check_scene_set_size(
    people: list[str],
    counts: dict[str, int],
    cross_capacity: dict[str, int],
    fold: int,
    n_per_set: int,
    config_key: str,
) -> None:
    """Raise ValueError when one identity set cannot supply a full cross-scene set."""
    matched = sum(cross_capacity[name] for name in people)
    mismatched = _mismatched_capacity([counts[name] for name in people])
    if matched < n_per_set or mismatched < n_per_set:
        raise ValueError(
            f"make_pairs with scene groups: set {fold + 1} got {len(people)} identities offering "
            f"{matched} distinct cross-scene matched and {mismatched} mismatched pairs, but "
            f"needs {n_per_set} of each; {_scene_advice(config_key)}."
        )


def _distinct_index_pairs(
    n_items: int, n_pairs: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Draw ``n_pairs`` distinct unordered pairs (i < j) of 0-based indices below ``n_items``."""
    if n_pairs == 0:
        return []
    if 2 * n_pairs > _matched_capacity(n_items):  # dense: enumerate all and choose
        all_pairs = [(i, j) for i in range(n_items) for j in range(i + 1, n_items)]
        chosen = rng.choice(len(all_pairs), size=n_pairs, replace=False)
        return [all_pairs[index] for index in sorted(chosen)]
    drawn: set[tuple[int, int]] = set()
    while len(drawn) < n_pairs:  # sparse: rejection sampling accepts >= 1/2 of the draws
        i, j = rng.choice(n_items, size=2, replace=False)
        drawn.add((int(min(i, j)), int(max(i, j))))
    return sorted(drawn)


def _draw_mismatched(
    group: list[str], counts: dict[str, int], n_pairs: int, rng: np.random.Generator
) -> list[tuple[str, int, str, int]]:
    """Draw distinct (name1, n1, name2, n2) different-person pairs with name1 < name2."""
    people = sorted(group)
    capacity = _mismatched_capacity([counts[name] for name in people])
    if 2 * n_pairs > capacity:  # dense: enumerate every candidate and choose
        candidates = [
            (name1, number1, name2, number2)
            for position, name1 in enumerate(people)
            for name2 in people[position + 1 :]
            for number1 in range(1, counts[name1] + 1)
            for number2 in range(1, counts[name2] + 1)
        ]
        chosen = rng.choice(len(candidates), size=n_pairs, replace=False)
        return [candidates[index] for index in sorted(chosen)]
    drawn: set[tuple[str, int, str, int]] = set()
    max_attempts = 1000 * n_pairs
    for _ in range(max_attempts):
        if len(drawn) == n_pairs:
            break
        index_a, index_b = sorted(rng.choice(len(people), size=2, replace=False))
        name1, name2 = people[index_a], people[index_b]
        number1 = int(rng.integers(1, counts[name1] + 1))
        number2 = int(rng.integers(1, counts[name2] + 1))
        drawn.add((name1, number1, name2, number2))
    if len(drawn) < n_pairs:
        raise ValueError(
            f"make_pairs could not draw {n_pairs} distinct mismatched pairs from {len(people)} "
            "people in one set (image counts too uneven); add identities or lower n_per_set."
        )
    return sorted(drawn)
