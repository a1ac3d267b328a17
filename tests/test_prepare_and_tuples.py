"""SynthFaces preparation and the pose-transfer tuples: the data contract, exact targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SMALL_SYNTHFACES

from bench.config import validate_config
from bench.data.dataset import FaceData, to_float_images
from bench.data.index import load_image, read_index, read_meta
from bench.data.pairs import read_pairs
from bench.data.prepare import prepare_synthfaces, scene_from_row
from bench.data.synthfaces import Identity, Renderer
from bench.methods.registry import get_method
from bench.protocols.pose_transfer import (
    make_driver,
    read_tuples,
    resolve_tuples,
    synthesize,
    write_tuples,
)
from bench.train import TrainSettings, train

SMALL = SMALL_SYNTHFACES


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    settings = validate_config({"synthfaces": SMALL})["synthfaces"]
    root = tmp_path_factory.mktemp("synthfaces")
    prepare_synthfaces(root, settings, workers=2)
    write_tuples(root, {"k": [1, 3], "tuples": 8, "seed": 0, "batch_size": 4})
    return root


def test_prepared_dataset_follows_the_data_contract(dataset):
    index = read_index(dataset)
    assert len(index) == 12 * (2 * 5 + 19)  # 2 clips of 5 frames and one session of 19 views
    assert set(index.loc[index.split == "train", "identity"]) == set(range(6))
    assert set(index.loc[index.split == "test", "identity"]) == set(range(6, 12))
    assert (index["pose_source"] == "gt").all()
    assert index["yaw"].between(-90, 90).all() and index["pitch"].between(-30, 30).all()
    assert index["roll"].between(-20, 20).all()
    assert load_image(dataset / index["path"].iloc[0], 32).shape == (32, 32, 3)
    assert read_meta(dataset)["has_exact_targets"] is True


def test_pairs_file_is_lfw_format_over_test_identities_only(dataset):
    lines = (dataset / "pairs.txt").read_text().splitlines()
    assert lines[0] == "2\t4" and len(lines) == 1 + 2 * 2 * 4
    assert [len(line.split("\t")) for line in lines[1:9]] == [3] * 4 + [4] * 4
    test_names = set(read_index(dataset).query("split == 'test'")["name"])
    for pair in read_pairs(dataset / "pairs.txt"):
        assert {pair.name1, pair.name2} <= test_names


def test_preparation_is_deterministic(dataset, tmp_path):
    settings = validate_config({"synthfaces": SMALL})["synthfaces"]
    prepare_synthfaces(tmp_path, settings, workers=1)
    assert (tmp_path / "index.csv").read_bytes() == (dataset / "index.csv").read_bytes()
    assert (tmp_path / "pairs.txt").read_bytes() == (dataset / "pairs.txt").read_bytes()
    path = read_index(dataset)["path"].iloc[-1]
    assert (tmp_path / path).read_bytes() == (dataset / path).read_bytes()


def test_index_row_rerenders_its_image_exactly(dataset):
    index = read_index(dataset)
    row = index.iloc[17]
    meta = read_meta(dataset)["settings"]
    person = Identity.from_seed(int(row["identity_seed"]), shape_gain=meta["shape_gain"])
    image = Renderer(32, supersample=meta["supersample"]).render(person, scene_from_row(row)).image
    assert np.array_equal(image, load_image(dataset / row["path"]))


def test_tuples_are_nested_disjoint_and_cross_identity(dataset):
    tuples = read_tuples(dataset)
    index = read_index(dataset).set_index("path")
    for row in tuples.itertuples():
        sources = row.sources.split(";")
        assert len(sources) == 3 and row.self_driver not in sources
        assert {index.loc[p, "identity"] for p in sources} == {row.identity}
        assert index.loc[row.self_driver, "identity"] == row.identity
        assert index.loc[row.cross_driver, "identity"] == row.cross_identity != row.identity
        assert index.loc[row.cross_driver, "split"] == "test"


def test_cross_target_is_a_in_the_drivers_pose_under_the_sources_light(dataset):
    import dataclasses

    tuples, index = read_tuples(dataset), read_index(dataset)
    by_path = index.set_index("path")
    for row in tuples.iloc[:3].itertuples():
        seed = int(index.loc[index.identity == row.identity, "identity_seed"].iloc[0])
        driver = scene_from_row(by_path.loc[row.cross_driver])
        source = scene_from_row(by_path.loc[row.sources.split(";")[0]])
        scene = dataclasses.replace(
            driver,
            light_azimuth=source.light_azimuth,
            light_elevation=source.light_elevation,
            ambient=source.ambient,
            background=source.background,
        )
        expected = Renderer(32).render(Identity.from_seed(seed), scene).image
        assert np.array_equal(load_image(dataset / row.cross_target), expected)


def test_sessions_are_one_scene_under_multi_pie_cameras(dataset):
    index = read_index(dataset)
    sessions = index[index.session >= 0]
    assert len(sessions) == 12 * 19
    scene_columns = ["light_azimuth", "light_elevation", "ambient", "bg_r", "bg_g", "bg_b"]
    scene_columns += ["mouth_open", "smile", "brow_raise", "eye_close"]
    for (_, session), views in sessions.groupby(["identity", "session"]):
        assert session == 0 and (views["clip"] == 2).all()  # its own clip number after 2 clips
        assert (views[scene_columns].nunique() == 1).all()  # one scene
        nominal = np.arange(-90, 91, 15)
        assert np.abs(views["yaw"].to_numpy()[:13] - nominal).max() <= 3.0  # jitter
        assert np.abs(views["pitch"].to_numpy()[13:]).min() >= 17.0  # the pitch views
    assert (index.loc[index.session < 0, "clip"] < 2).all()


def test_head_turn_clips_sweep_yaw_monotonically():
    from bench.data.synthfaces import sample_clip

    rng = np.random.default_rng(0)
    for _ in range(20):
        yaws = np.array([s.yaw for s in sample_clip(rng, 9, key_every=2, turn=(60.0, 150.0))])
        steps = np.diff(yaws)
        assert (steps >= 0).all() or (steps <= 0).all()
        assert 60.0 - 1e-9 <= abs(yaws[-1] - yaws[0]) <= 150.0 + 1e-9
        assert np.abs(yaws).max() <= 90.0


def test_turn_probability_zero_and_no_sessions_renders_the_old_dataset(tmp_path, dataset):
    """The turn draw has its own random stream: without turns the clips are unchanged."""
    from bench.data.prepare import identity_scenes
    from bench.data.synthfaces import sample_clip

    settings = validate_config(
        {"synthfaces": {**SMALL, "clip_turns": {"probability": 0.0}, "sessions_per_identity": 0}}
    )["synthfaces"]
    rng = np.random.default_rng([settings["seed"], 3, 1])
    old = [sample_clip(rng, 5, key_every=settings["clip_key_every"]) for _ in range(2)]
    assert [scene for _, _, scene in identity_scenes(settings, 3)] == old[0] + old[1]


def test_clip_grouping_excludes_sessions_and_session_grouping_is_sessions(dataset):
    from bench.data.index import group_rows

    index = read_index(dataset)
    for rows in group_rows(index, "clip"):
        assert (index.loc[rows, "session"] == -1).all() and len(rows) == 5
    for rows in group_rows(index, "session"):
        assert (index.loc[rows, "session"] >= 0).all() and len(rows) == 19
        assert index.loc[rows, "identity"].nunique() == 1
    meta = read_meta(dataset)
    assert meta["groupings"]["train"]["session"] == {
        "groups": 6,
        "max_images": 19,
        "min_images": 19,
    }


def test_clip_tuples_draw_video_clips_only_session_tuples_sessions_only(dataset):
    from bench.protocols.pose_transfer import make_tuples

    index = read_index(dataset)
    test, by_path = index[index.split == "test"], index.set_index("path")
    for sources, in_session in (("clip", False), ("session", True)):
        tuples = make_tuples(test, 3, 20, seed=0, sources=sources)
        for row in tuples.itertuples():
            for path in [*row.sources.split(";"), row.self_driver]:
                assert (by_path.loc[path, "session"] >= 0) == in_session


def test_session_sampling_draws_views_of_one_session():
    from conftest import make_face_data

    from bench.methods.api import Sampling

    data = make_face_data(n_identities=4, per_identity=8)
    rows = data.draw_rows(Sampling(group="session", frames=2), 16, np.random.default_rng(0))
    for item in rows:
        views = data.index.loc[item]
        assert (views["session"] >= 0).all() and views["session"].nunique() == 1
        assert views["identity"].nunique() == 1 and views["clip"].nunique() == 1


def test_session_sampling_on_a_dataset_without_sessions_names_the_fix():
    from conftest import make_face_data

    from bench.errors import DataError
    from bench.methods.api import Sampling

    data = make_face_data(n_identities=4, per_identity=8)
    data.index["session"] = -1
    data.__dict__.pop("_groups", None)
    with pytest.raises(DataError, match="no multi-view sessions.*sampling_group"):
        data.draw_rows(Sampling(group="session", frames=2), 4, np.random.default_rng(0))


def test_self_driver_shares_the_first_sources_clip(dataset):
    index = read_index(dataset).set_index("path")
    for row in read_tuples(dataset).itertuples():
        first = row.sources.split(";")[0]
        assert index.loc[first, "clip"] == index.loc[row.self_driver, "clip"]


def source_clips(tuples, index) -> list[set]:
    """Per tuple, the (identity, clip) pairs its sources come from."""
    return [
        {tuple(index.loc[p, ["identity", "clip"]]) for p in row.sources.split(";")}
        for row in tuples.itertuples()
    ]


def test_clip_sources_come_from_the_first_sources_clip_identity_sources_need_not(dataset):
    from bench.errors import DataError
    from bench.protocols.pose_transfer import make_tuples

    index = read_index(dataset)
    test, by_path = index[index.split == "test"], index.set_index("path")
    clip = make_tuples(test, 3, 40, seed=0, sources="clip")
    assert all(len(clips) == 1 for clips in source_clips(clip, by_path))
    anywhere = make_tuples(test, 3, 40, seed=0, sources="identity")
    assert any(len(clips) == 2 for clips in source_clips(anywhere, by_path))
    # Nested and disjoint from the self driver in both modes.
    for tuples in (clip, anywhere):
        assert all(r.self_driver not in r.sources.split(";") for r in tuples.itertuples())
    with pytest.raises(DataError, match="a video clip of 6 images.*sources: clip"):
        make_tuples(test, 5, 4, seed=0, sources="clip")  # clips hold 5 frames
    with pytest.raises(DataError, match="'video'"):
        make_tuples(test, 3, 4, seed=0, sources="video")


def test_reference_rows_return_source_driver_and_target(dataset):
    test, tuples = FaceData.load(dataset, "test"), read_tuples(dataset)
    resolved = resolve_tuples(test, tuples)
    info = test.info()
    outputs = {
        name: synthesize(get_method(name).cls({}, info), test, tuples, [1, 3], 4)
        for name in ("copy_source", "copy_driver", "ground_truth")
    }
    as_uint8 = lambda t: (t * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # noqa: E731
    assert np.array_equal(outputs["copy_source"]["k3_cross"], as_uint8(resolved.sources[:, 0]))
    assert np.array_equal(
        outputs["copy_driver"]["k1_cross"], test.images[resolved.drivers["cross"]]
    )
    assert np.array_equal(outputs["ground_truth"]["k1_cross"], as_uint8(resolved.targets["cross"]))
    assert np.array_equal(outputs["ground_truth"]["k1_self"], test.images[resolved.drivers["self"]])


def test_drivers_carry_only_declared_labels(dataset):
    test = FaceData.load(dataset, "test")
    rows = np.arange(4)
    bare = make_driver(test, rows, frozenset(), None)
    assert bare.pose is None and bare.landmarks is None and bare.target is None
    full = make_driver(
        test, rows, frozenset({"pose_angles", "landmarks", "target"}), torch.zeros(4, 3, 32, 32)
    )
    assert full.pose.shape == (4, 3) and full.landmark_image.shape == (4, 3, 32, 32)
    assert full.target is not None


def test_pose_ae_trains_and_transfers_on_prepared_data(dataset, tmp_path):
    data, test = FaceData.load(dataset, "train"), FaceData.load(dataset, "test")
    spec = get_method("pose_ae")
    config = spec.resolved_config("tiny", {"width": 4, "steps": 3, "batch_size": 4})
    train(
        spec,
        config,
        data,
        tmp_path,
        seed=0,
        settings=TrainSettings(device="cpu", checkpoint_every=2),
    )
    from bench.train import load_trained

    method = load_trained(tmp_path / "model.pt", spec)
    outputs = synthesize(method, test, read_tuples(dataset), [1, 3], 4)
    assert outputs["k3_cross"].shape == (8, 32, 32, 3) and outputs["k1_self"].dtype == np.uint8
    assert to_float_images(outputs["k1_self"]).std() > 0


def test_identity_code_that_encodes_identity_verifies_perfectly(dataset):
    from bench.protocols.representation import pairs_files, score_representation

    test = FaceData.load(dataset, "test")
    labels = test.index["identity"].to_numpy()
    one_hot = (labels[:, None] == np.unique(labels)[None]).astype(float)
    noise = np.random.default_rng(0).normal(size=(len(test), 8))
    pairs = pairs_files(dataset, read_meta(dataset))
    rows = score_representation({"identity": one_hot, "pose": noise}, test, pairs)
    by_metric = {r["metric"]: r for r in rows}
    for kind in ("cross-scene", "same-scene"):
        assert by_metric[f"verification_accuracy[identity-code/cosine/{kind}]"]["value"] == 1.0
        assert by_metric[f"verification_accuracy[identity-code/sql2/{kind}]"]["value"] == 1.0
    pose = by_metric["verification_accuracy[pose-code/cosine/cross-scene]"]
    assert pose["protocol"] == "representation/leakage" and pose["pairs"] == "cross_scene"


def test_matched_pairs_cross_scenes_and_the_same_scene_twin_is_recorded(dataset):
    from bench.data.index import scene_groups

    test = read_index(dataset).query("split == 'test'")
    scene_of = dict(zip(test["path"], scene_groups(test), strict=True))

    def scene(name, number):
        return scene_of[f"images/{name}/{name}_{number:04d}.png"]

    entry = read_meta(dataset)["pairs"]
    assert entry == {
        "cross_scene": True,
        "same_scene_pairs_file": "pairs_same_scene.txt",
        "identities_without_cross_scene_pair": 0,
    }
    cross, same = read_pairs(dataset / "pairs.txt"), read_pairs(dataset / "pairs_same_scene.txt")
    assert all(scene(p.name1, p.number1) != scene(p.name1, p.number2) for p in cross if p.same)
    assert all(scene(p.name1, p.number1) == scene(p.name1, p.number2) for p in same if p.same)
    assert [p for p in cross if not p.same] == [p for p in same if not p.same]


def test_pairs_line_naming_a_missing_image_is_an_error_not_a_skip(dataset, tmp_path):
    from bench.errors import DataError
    from bench.protocols.representation import pair_rows

    text = (dataset / "pairs.txt").read_text().splitlines()
    name, _, second = text[1].split("\t")
    text[1] = f"{name}\t99\t{second}"
    broken = tmp_path / "pairs.txt"
    broken.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=rf"{broken}: line 2: image images/{name}/{name}_0099.png"):
        pair_rows(FaceData.load(dataset, "test"), broken)


def test_tsne_figure_writes_png_and_pdf(dataset, tmp_path):
    from bench.protocols.representation import tsne_figure

    test = FaceData.load(dataset, "test")
    codes = {
        "identity": np.random.default_rng(0).normal(size=(len(test), 6)),
        "pose": np.random.default_rng(1).normal(size=(len(test), 3)),
    }
    written = tsne_figure(codes, test, tmp_path / "tsne", "title", identities=4)
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(
        p.stat().st_size > 1000 for p in written
    )


def test_distribution_rows_fd_zero_for_real_images_and_fid_na_with_reason():
    from bench.errors import EvaluatorUnavailable
    from bench.protocols.pose_transfer import distribution_rows

    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 16))
    images = np.zeros((400, 8, 8, 3), np.uint8)
    rows = distribution_rows(
        images, real, real, EvaluatorUnavailable("no weights at /x.pth"), {"seed": 0}, "cross", 1
    )
    by_metric = {r["metric"]: r for r in rows}
    assert abs(by_metric["fd[synth-oracle]"]["value"]) < 1e-6
    assert by_metric["fd[synth-oracle]"]["sample_label"] == "small-sample"
    shifted = distribution_rows(
        images, real + 1.0, real, EvaluatorUnavailable("x"), {"seed": 0}, "cross", 1
    )
    assert {r["metric"]: r for r in shifted}["fd[synth-oracle]"]["value"] == pytest.approx(
        16.0, rel=1e-6
    )
    assert np.isnan(by_metric["fid[inception-v3-pool3]"]["value"])
    assert by_metric["fid[inception-v3-pool3]"]["na_reason"] == "no weights at /x.pth"


def test_method_not_applicable_at_a_k_gets_no_images_and_marker_rows(dataset, tmp_path):
    from bench.protocols.pose_transfer import (
        load_generated,
        not_applicable_rows,
        save_generated,
    )

    class OnlyForManySources(get_method("copy_source").cls):
        not_applicable_k = {1: "equals another row at K = 1"}

    test, tuples = FaceData.load(dataset, "test"), read_tuples(dataset)
    outputs = synthesize(OnlyForManySources({}, test.info()), test, tuples, [1, 3], 4)
    assert sorted(outputs) == ["k3_cross", "k3_self"]
    save_generated(tmp_path / "generated.npz", outputs, tuples, [1, 3])
    loaded, k_values = load_generated(tmp_path / "generated.npz")
    assert sorted(loaded) == ["k3_cross", "k3_self"] and k_values == [1, 3]
    rows = not_applicable_rows(OnlyForManySources.not_applicable_k, k_values)
    assert {(r["protocol"], r["k"]) for r in rows} == {
        ("pose_transfer/self", 1),
        ("pose_transfer/cross", 1),
    }
    assert all(r["not_applicable"] == "equals another row at K = 1" for r in rows)
    assert not_applicable_rows(OnlyForManySources.not_applicable_k, [3]) == []
