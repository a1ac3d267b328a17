"""Protocol 1 by pretrained face evaluators: dlib CSIM/AED/AKD/MKR/head pose and facenet,
misses counted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.config import validate_config
from bench.data.dataset import FaceData, to_uint8_images
from bench.data.prepare import prepare_synthfaces
from bench.errors import DataError, EvaluatorUnavailable
from bench.evaluators import facenet
from bench.protocols.face_scores import FaceEvaluators, reference_features, score_faces
from bench.protocols.pose_transfer import read_tuples, resolve_tuples, write_tuples

SMALL = {
    "resolution": 64,
    "train_identities": 2,
    "test_identities": 4,
    "clips_per_identity": 2,
    "clip_length": 3,
    "supersample": 1,
    "pairs": {"sets": 2, "per_set": 2},
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    settings = validate_config({"synthfaces": SMALL})["synthfaces"]
    root = tmp_path_factory.mktemp("synthfaces")
    prepare_synthfaces(root, settings, workers=1)
    write_tuples(root, {"k": [1, 2], "tuples": 6, "seed": 0, "batch_size": 4})
    return root


@pytest.fixture(scope="module")
def facenet_weights(tmp_path_factory):
    """A facenet weights file in the library's cache layout (random weights: shapes only)."""
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    model = InceptionResnetV1()
    model.logits = torch.nn.Linear(512, facenet.VGGFACE2_CLASSES)
    home = tmp_path_factory.mktemp("torch_home")
    path = home / "checkpoints" / facenet.WEIGHTS_FILE
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    return home


SETTINGS = {"evaluators": ["dlib"], "tuples": 4, "k": [1, 2], "dlib_upsample": 1}
SCORING = {"bootstrap": 50, "seed": 0}


def by_metric(rows, kind, k):
    return {
        r["metric"]: r for r in rows if r["protocol"] == f"pose_transfer/{kind}" and r["k"] == k
    }


def test_outputs_equal_to_the_targets_score_perfectly_and_blanks_are_counted(dataset):
    test = FaceData.load(dataset, "test")
    tuples = read_tuples(dataset)
    settings = {**SETTINGS, **SCORING}
    evaluators = FaceEvaluators(settings)
    reference = reference_features(test, tuples, evaluators, settings)
    assert reference["source_dlib_embedding"].shape == (4, 2, 128)
    resolved = resolve_tuples(test, tuples.iloc[:4])
    perfect = {
        "k1_self": to_uint8_images(resolved.targets["self"]),
        "k1_cross": to_uint8_images(resolved.targets["cross"]),
        "k2_cross": np.zeros((6, 64, 64, 3), np.uint8),  # no face at all
    }
    rows = score_faces(perfect, reference, evaluators, settings)
    for kind in ("self", "cross"):
        got = by_metric(rows, kind, 1)
        found = got["face_found[dlib-hog]"]
        assert found["n"] == 4 and found["value"] == got["face_found[dlib-hog]"]["value"]
        if got["csim_target[dlib-resnet]"]["n_used"]:
            assert got["csim_target[dlib-resnet]"]["value"] == pytest.approx(1.0)
            assert got["aed_id[dlib-resnet]"]["value"] == pytest.approx(0.0, abs=1e-9)
            assert got["akd[dlib-68]"]["value"] == pytest.approx(0.0, abs=1e-9)
            assert got["mkr[dlib-68]"]["value"] == 0.0
    # The self target is the driver: pose error of the target itself is exactly 0.
    self_rows = by_metric(rows, "self", 1)
    assert self_rows["csim_target[dlib-resnet]"]["n_used"] >= 2  # the checks above ran
    if self_rows["pose_error[dlib68-pnp]"]["n_used"]:
        assert self_rows["pose_error[dlib68-pnp]"]["value"] == pytest.approx(0.0, abs=1e-9)
    blank = by_metric(rows, "cross", 2)
    assert blank["face_found[dlib-hog]"]["value"] == 0.0 and blank["face_found[dlib-hog]"]["n"] == 4
    assert np.isnan(blank["csim_target[dlib-resnet]"]["value"])
    assert blank["csim_target[dlib-resnet]"]["missing_rate"] == 1.0
    assert "no pair with a face found" in blank["csim_target[dlib-resnet]"]["na_reason"]


def test_mkr_is_the_share_of_outputs_without_a_face_where_the_target_has_one(dataset):
    test = FaceData.load(dataset, "test")
    tuples = read_tuples(dataset)
    settings = {**SETTINGS, **SCORING}
    evaluators = FaceEvaluators(settings)
    reference = reference_features(test, tuples, evaluators, settings)
    outputs = to_uint8_images(resolve_tuples(test, tuples.iloc[:4]).targets["self"])
    blanked = [1, 2]
    outputs[blanked] = 0  # no face at all
    rows = score_faces({"k1_self": outputs}, reference, evaluators, settings)
    row = by_metric(rows, "self", 1)["mkr[dlib-68]"]
    # the count, done here: targets with a face, and those among them whose output is blank
    target_found = [bool(f) for f in reference["self_target_dlib_found"]]
    with_face = sum(target_found)
    missed = sum(target_found[i] for i in blanked)
    assert with_face >= 2 and missed >= 1  # the count below is not trivial
    assert row["n"] == with_face and row["n_missed"] == missed
    assert row["value"] == pytest.approx(missed / with_face)
    assert row["higher_is_better"] is False and row["evaluator"] == "dlib-68"
    assert "akd[dlib-68]" in by_metric(rows, "self", 1)  # reported beside AKD


def test_detection_works_on_64px_renders(dataset):
    test = FaceData.load(dataset, "test")
    frontal = np.abs(test.poses[:, 0]) < 30
    evaluators = FaceEvaluators({**SETTINGS, **SCORING})
    found = evaluators.features(test.images[frontal])["dlib_found"]
    assert found.mean() >= 0.5, f"dlib found {found.mean():.0%} of near-frontal 64 px renders"


def test_facenet_without_weights_gives_na_rows_with_the_path(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    test = FaceData.load(dataset, "test")
    settings = {**SETTINGS, "evaluators": ["facenet"], **SCORING}
    evaluators = FaceEvaluators(settings)
    assert isinstance(evaluators.facenet, EvaluatorUnavailable)
    reference = reference_features(test, read_tuples(dataset), evaluators, settings)
    rows = score_faces({"k1_self": test.images[:6]}, reference, evaluators, settings)
    assert {r["metric"] for r in rows} == {
        "csim_target[facenet-vggface2]",
        "csim_source[facenet-vggface2]",
    }
    for row in rows:
        assert np.isnan(row["value"])
        assert str(tmp_path / "checkpoints" / facenet.WEIGHTS_FILE) in row["na_reason"]


def test_facenet_loads_cached_or_explicit_weights_and_scores_identical_images_1(
    dataset, facenet_weights, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(facenet_weights))
    assert facenet.find_facenet_weights() == facenet_weights / "checkpoints" / facenet.WEIGHTS_FILE
    explicit = facenet.find_facenet_weights(facenet.cache_weights_path())
    assert explicit.is_file()
    with pytest.raises(EvaluatorUnavailable, match="does not exist"):
        facenet.find_facenet_weights(facenet_weights / "nope.pt")
    test = FaceData.load(dataset, "test")
    settings = {**SETTINGS, "evaluators": ["facenet"], **SCORING}
    evaluators = FaceEvaluators(settings)
    reference = reference_features(test, read_tuples(dataset), evaluators, settings)
    resolved = resolve_tuples(test, read_tuples(dataset).iloc[:4])
    rows = by_metric(
        score_faces(
            {"k1_self": to_uint8_images(resolved.targets["self"])}, reference, evaluators, settings
        ),
        "self",
        1,
    )
    assert rows["face_found[mtcnn]"]["value"] > 0
    assert rows["csim_target[facenet-vggface2]"]["value"] == pytest.approx(1.0, abs=1e-6)


def test_a_file_that_is_not_facenet_weights_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(EvaluatorUnavailable, match="not an InceptionResnetV1 state_dict"):
        facenet.FacenetFace(path)


def test_a_key_with_missing_outputs_is_scored_on_the_tuples_it_has(dataset):
    test = FaceData.load(dataset, "test")
    tuples = read_tuples(dataset)
    settings = {**SETTINGS, **SCORING}
    evaluators = FaceEvaluators(settings)
    reference = reference_features(test, tuples, evaluators, settings)
    targets = to_uint8_images(resolve_tuples(test, tuples.iloc[:4]).targets["self"])
    where = np.array([0, 2, 3])  # tuple position 1 missing
    rows = score_faces(
        {"k1_self": targets[where]}, reference, evaluators, settings, {"k1_self": where}
    )
    # the same, by hand: the reference arrays of those tuples only
    subset = {k: v if k in ("n", "k_max") else v[where] for k, v in reference.items()}
    subset["n"] = np.array(3)
    expected = score_faces({"k1_self": targets[where]}, subset, evaluators, settings)
    assert len(rows) == len(expected) > 5
    for got, want in zip(rows, expected, strict=True):
        assert got["metric"] == want["metric"] and got["n_missing"] == 1
        assert got["n"] == want["n"] and got.get("n_used") == want.get("n_used")
        assert np.isnan(want["value"]) or got["value"] == want["value"]


@pytest.fixture(scope="module")
def mtcnn_scored(dataset):
    """``mtcnn`` rows for self targets shifted 2 px right, one of them blanked, and the inputs."""
    test = FaceData.load(dataset, "test")
    tuples = read_tuples(dataset)
    settings = {**SETTINGS, "evaluators": ["mtcnn"], **SCORING}
    evaluators = FaceEvaluators(settings)
    reference = reference_features(test, tuples, evaluators, settings)
    outputs = np.roll(to_uint8_images(resolve_tuples(test, tuples.iloc[:4]).targets["self"]), 2, 2)
    outputs[[1]] = 0  # no face at all
    rows = score_faces({"k1_self": outputs}, reference, evaluators, settings)
    return rows, evaluators.features(outputs), reference


def test_mtcnn_akd_mkr_and_pose_error_equal_a_numpy_reference(mtcnn_scored):
    rows, generated, reference = mtcnn_scored
    got = by_metric(rows, "self", 1)
    points, found = generated["mtcnn_landmarks"], generated["mtcnn_found"]
    target, target_found = (
        reference["self_target_mtcnn_landmarks"],
        reference["self_target_mtcnn_found"],
    )
    both = found & target_found
    assert both.sum() >= 2 and (target_found & ~found).sum() >= 1  # not a trivial check
    distances = [
        np.mean(np.sqrt(((points[i] - target[i]) ** 2).sum(1))) for i in np.flatnonzero(both)
    ]
    akd = got["akd[mtcnn-5]"]
    assert akd["value"] == pytest.approx(np.mean(distances), rel=1e-12) and akd["value"] > 0.5
    assert akd["n"] == 4 and akd["n_used"] == both.sum() and akd["evaluator"] == "mtcnn-5"
    mkr = got["mkr[mtcnn-5]"]
    assert mkr["value"] == pytest.approx((target_found & ~found).sum() / target_found.sum())
    assert mkr["n"] == target_found.sum()
    pose, driver = generated["mtcnn_pose"], reference["self_driver_mtcnn_pose"]
    ok = np.isfinite(pose).all(1) & np.isfinite(driver).all(1)
    assert ok.sum() >= 2
    error = np.abs((pose[ok] - driver[ok] + 180.0) % 360.0 - 180.0)
    for name, column in (("pose_error_yaw", 0), ("pose_error_pitch", 1), ("pose_error_roll", 2)):
        assert got[f"{name}[mtcnn5-pnp]"]["value"] == pytest.approx(error[:, column].mean())
    assert got["pose_error[mtcnn5-pnp]"]["value"] == pytest.approx(error.mean())
    assert got["pose_error[mtcnn5-pnp]"]["n_used"] == ok.sum()


def test_the_face_table_shows_the_mtcnn_columns_with_their_evaluator_names(mtcnn_scored, tmp_path):
    from bench.report.tables import write_face_tables

    rows, _, _ = mtcnn_scored
    path = tmp_path / "metrics_faces.json"
    content = [{**row, "method": "shifted", "seed": 0, "dataset": "toy"} for row in rows]
    path.write_text(json.dumps({"rows": content}, default=float))
    write_face_tables([path], tmp_path, "toy")
    table = (tmp_path / "toy_pose_transfer_faces.md").read_text()
    for header in ("AKD px [mtcnn-5] ↓", "MKR [mtcnn-5] ↓", "pose err ° [mtcnn5-pnp] ↓"):
        assert header in table
    assert "mtcnn5-pnp" in table.split("|")[-1]  # the notes say what the evaluator is
    csv = (tmp_path / "toy_pose_transfer_faces.csv").read_text().splitlines()[0]
    assert "pose_error_yaw[mtcnn5-pnp] ↓ mean" in csv


def test_a_reference_without_the_mtcnn_features_is_refused_saying_what_to_rerun(mtcnn_scored):
    rows, generated, reference = mtcnn_scored
    old = {k: v for k, v in reference.items() if "mtcnn" not in k}
    evaluators = FaceEvaluators.__new__(FaceEvaluators)
    evaluators.dlib, evaluators.facenet, evaluators.mtcnn = None, None, object()
    with pytest.raises(DataError, match="no mtcnn features.*face-reference"):
        score_faces({"k1_self": np.zeros((4, 64, 64, 3), np.uint8)}, old, evaluators, SETTINGS)
