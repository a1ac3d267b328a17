"""Protocol 1 scored by pretrained face evaluators, as papers on real faces score it.

The synth-oracle columns of the pose-transfer table need SynthFaces; these do not. For the
first ``tuples`` test tuples at each K in ``k``:

- ``csim_target[dlib-resnet]``, ``csim_source[dlib-resnet]``: cosine similarity of dlib's
  128-d ResNet descriptors of the generated image and the target / the K sources;
- ``aed_id[dlib-resnet]``: AED of identities, the L2 distance of those descriptors,
  generated vs target (FOMM's evaluation; ``aed_exp``, the expression-parameter distance
  later papers call AED, is not built: there is no expression estimator);
- ``akd[dlib-68]``: AKD, the mean pixel distance of the 68 dlib landmarks, generated vs target;
- ``mkr[dlib-68]``: MKR, the share of outputs in which the landmark detector finds no face
  where the target has one (``n``: the tuples whose target has a face; ``n_missed``);
- ``pose_error[dlib68-pnp]`` and per angle: the head pose that landmarks + solvePnP estimate on
  the generated image vs on the driver. Both sides use the same estimator, so its bias cancels
  and the protocol is the same on real data, where no exact angles exist;
- ``akd[mtcnn-5]``, ``mkr[mtcnn-5]``, ``pose_error[mtcnn5-pnp]`` and per angle: the same
  with a second landmark detector, facenet-pytorch's MTCNN (5 points: eye centres, nose tip,
  mouth corners; offline) and the 5-point PnP of :mod:`bench.evaluators.mtcnn_face`, whose
  profile flag (eyes foreshortened) leaves a pose out as a miss;
- ``csim_target[facenet-vggface2]``, ``csim_source[facenet-vggface2]``: the same with MTCNN
  alignment and facenet-pytorch's VGGFace2 InceptionResnetV1, or ``n/a`` with the reason when
  its weights are not on this machine;
- ``face_found[dlib-hog]``, ``face_found[mtcnn]``: the share of generated images in which the
  detector found a face. A pair with a missed face is left out of the distances above and
  counted here (``n`` is always every scored tuple; ``n_used`` and ``missing_rate`` say how
  many pairs a mean covers): a method cannot look better by producing non-faces.

Target terms (csim_target, AED, AKD, MKR) need a target: the self driver, and the exact cross target
where the dataset renders one (SynthFaces); on real data the cross rows carry the source and
pose terms only. The targets', drivers' and sources' features are the same for every method: :func:`reference_features`
computes them once per dataset (its own DAG job).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from bench.data.dataset import FaceData, to_uint8_images
from bench.errors import DataError, EvaluatorUnavailable
from bench.metrics.keypoints import embedding_distances, keypoint_distances
from bench.metrics.specs import spec_of
from bench.protocols.pose_transfer.tuples import KINDS, PROTOCOL, resolve_tuples
from bench.score import Score, parse_kind_key

log = logging.getLogger(__name__)

DLIB = "dlib"
FACENET = "facenet"
MTCNN = "mtcnn"
EVALUATORS = (DLIB, FACENET, MTCNN)


class FaceEvaluators:
    """The configured pretrained evaluators; an unavailable one keeps its reason instead."""

    def __init__(self, settings: dict[str, Any]) -> None:
        unknown = set(settings["evaluators"]) - set(EVALUATORS)
        if unknown:
            raise DataError(
                f"unknown face evaluators {sorted(unknown)}; use {', '.join(EVALUATORS)}"
            )
        self.dlib: Any = None
        self.facenet: Any = None
        self.mtcnn: Any = None
        if DLIB in settings["evaluators"]:
            from bench.evaluators.dlib_face import DlibFace

            self.dlib = DlibFace(upsample=settings["dlib_upsample"])
        if FACENET in settings["evaluators"]:
            from bench.evaluators.facenet import FacenetFace

            try:
                self.facenet = FacenetFace(settings.get("facenet_weights"))
            except EvaluatorUnavailable as error:
                log.warning("csim[facenet-vggface2] is n/a: %s", error)
                self.facenet = error
        if MTCNN in settings["evaluators"]:
            from bench.evaluators.mtcnn_face import MtcnnFace

            self.mtcnn = MtcnnFace()

    def features(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every evaluator's outputs for uint8 images ``[N, H, W, 3]`` (NaN rows where no face)."""
        out: dict[str, np.ndarray] = {}
        if self.dlib is not None:
            from bench.evaluators.head_pose import estimate_head_pose

            points, embeddings, found = self.dlib.analyse(images)
            out.update(
                dlib_landmarks=points,
                dlib_embedding=embeddings,
                dlib_found=found,
                dlib_pose=estimate_head_pose(points, images.shape[1:3]),
            )
        if self.facenet is not None and not isinstance(self.facenet, EvaluatorUnavailable):
            embeddings, found = self.facenet.embed(images)
            out.update(facenet_embedding=embeddings, facenet_found=found)
        if self.mtcnn is not None:
            from bench.evaluators.mtcnn_face import estimate_head_pose_5, usable_pose

            points, found = self.mtcnn.landmarks(images)
            pose = usable_pose(*estimate_head_pose_5(points, images.shape[1:3]))
            out.update(mtcnn_landmarks=points, mtcnn_found=found, mtcnn_pose=pose)
        return out


def scored_tuples(tuples: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """The first ``settings['tuples']`` tuples (all when there are fewer)."""
    return tuples.iloc[: min(len(tuples), int(settings["tuples"]))]


def reference_features(
    test: FaceData, tuples: pd.DataFrame, evaluators: FaceEvaluators, settings: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Features of the scored tuples' sources ``[n, K_max]``, drivers and targets (per kind).

    The self target is the self driver; the cross target exists only where the dataset
    renders exact targets (SynthFaces), so on real data the cross rows have no target terms.
    """
    chosen = scored_tuples(tuples, settings)
    resolved = resolve_tuples(test, chosen)
    n, k_max = resolved.sources.shape[:2]
    arrays: dict[str, np.ndarray] = {"n": np.array(n), "k_max": np.array(k_max)}
    sources = evaluators.features(to_uint8_images(resolved.sources.flatten(0, 1)))
    for name, values in sources.items():
        arrays[f"source_{name}"] = values.reshape(n, k_max, *values.shape[1:])
    for kind in KINDS:
        drivers = evaluators.features(test.images[resolved.drivers[kind]])
        arrays.update({f"{kind}_driver_{name}": v for name, v in drivers.items()})
        if kind == "self":
            arrays.update({f"self_target_{name}": v for name, v in drivers.items()})
        elif resolved.targets[kind] is not None:
            targets = evaluators.features(to_uint8_images(resolved.targets[kind]))
            arrays.update({f"{kind}_target_{name}": v for name, v in targets.items()})
    return arrays


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity; NaN rows (no face) become zero vectors, which score 0
    and are masked by the callers."""
    from bench.metrics.similarity import cosine_similarity

    return cosine_similarity(np.nan_to_num(a), np.nan_to_num(b))


def _row(
    metric: str,
    values: np.ndarray,
    used: np.ndarray,
    evaluator: str,
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> Score:
    """A score: mean over the ``used`` tuples, N = all scored tuples, misses counted."""
    n, n_used = len(used), int(used.sum())
    fields: dict[str, Any] = {
        "evaluator": evaluator,
        "evaluator_floor": None,
        "protocol": PROTOCOL,
        "kind": kind,
        "k": k,
        "spread": "bootstrap95 over tuples with a face found",
        "extra": {"n_used": n_used, "missing_rate": 1.0 - n_used / n if n else float("nan")},
    }
    spec = spec_of(metric)
    if n_used == 0:
        reason = f"{evaluator}: no pair with a face found in both images"
        return Score.unavailable(spec, reason, n, ci95=None, **fields)
    bootstrap = (settings["bootstrap"], settings["seed"])
    return Score.from_values(spec, values[used], bootstrap, n=n, **fields)


def _found_row(
    found: np.ndarray, driver_found: np.ndarray, detector: str, kind: str, k: int
) -> Score:
    """Share of generated images with a face; its floor is the share among the real drivers."""
    return Score.measured(
        spec_of("face_found"),
        float(found.mean()),
        len(found),
        evaluator=detector,
        evaluator_floor={"driver_face_found": float(driver_found.mean())},
        protocol=PROTOCOL,
        kind=kind,
        k=k,
        spread="none",
    )


def _source_similarity(
    embedding: np.ndarray, sources: np.ndarray, source_found: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean cosine similarity to the found sources ``[n, K]`` and the tuples it covers."""
    per_source = np.stack([_cosine(embedding, sources[:, j]) for j in range(sources.shape[1])], 1)
    per_source = np.where(source_found, per_source, 0.0)
    count = source_found.sum(1)
    return per_source.sum(1) / np.maximum(count, 1), count > 0


def _na_row(metric: str, evaluator: str, reason: str, n: int, kind: str, k: int) -> Score:
    return Score.unavailable(
        spec_of(metric),
        reason,
        n,
        evaluator=evaluator,
        evaluator_floor=None,
        protocol=PROTOCOL,
        kind=kind,
        k=k,
        spread="none",
    )


def score_faces(
    outputs: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    evaluators: FaceEvaluators,
    settings: dict[str, Any],
    positions: dict[str, np.ndarray] | None = None,
) -> list[Score]:
    """Rows for every (kind, K) of ``outputs`` with K in ``settings['k']``; ``positions``:
    as ``score_pose_transfer``'s (a key lacking tuples is scored on the scored tuples it
    has, ``n_missing`` counts the others)."""
    from bench.protocols.pose_transfer.scoring import with_missing

    n = int(reference["n"])
    if positions:
        whole = {key: images for key, images in outputs.items() if key not in positions}
        rows = score_faces(whole, reference, evaluators, settings)
        for key, where in sorted(positions.items()):
            keep = where < n
            subset = {
                name: values if name in ("n", "k_max") else values[where[keep]]
                for name, values in reference.items()
            }
            subset["n"] = np.array(int(keep.sum()))
            scored = score_faces({key: outputs[key][keep]}, subset, evaluators, settings)
            rows += [with_missing(row, n - int(keep.sum())) for row in scored]
        return rows
    return _score_faces(outputs, reference, evaluators, settings)


def _score_faces(
    outputs: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    evaluators: FaceEvaluators,
    settings: dict[str, Any],
) -> list[Score]:
    from bench.evaluators.facenet import NAME as FACENET_NAME

    _check_reference(reference, evaluators)
    n = int(reference["n"])
    rows: list[Score] = []
    for key in sorted(outputs):
        k, kind = parse_kind_key(key)
        if k not in settings["k"]:
            continue
        generated = evaluators.features(outputs[key][:n])
        if evaluators.dlib is not None:
            rows += _dlib_scores(generated, reference, kind, k, settings)
        if isinstance(evaluators.facenet, EvaluatorUnavailable):
            for family in ("csim_target", "csim_source"):
                reason = str(evaluators.facenet)
                rows.append(_na_row(family, FACENET_NAME, reason, n, kind, k))
        elif evaluators.facenet is not None:
            rows += _facenet_scores(generated, reference, kind, k, settings)
        if evaluators.mtcnn is not None:
            rows += _mtcnn_scores(generated, reference, kind, k, settings)
    return rows


def _check_reference(reference: dict[str, np.ndarray], evaluators: FaceEvaluators) -> None:
    """Every configured evaluator's features are in the reference (computed with the same settings)."""
    for prefix in (DLIB, MTCNN):
        if (
            getattr(evaluators, prefix) is not None
            and f"self_driver_{prefix}_found" not in reference
        ):
            raise DataError(
                f"the face reference has no {prefix} features: it was computed without the "
                f"{prefix!r} evaluator; rerun `python -m bench face-reference` with the same "
                "face_scores settings"
            )


def _found_and_source_scores(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    prefix: str,
    evaluator: str,
    detector: str,
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """One evaluator's face-found share and its CSIM vs the found sources."""
    found = generated[f"{prefix}_found"]
    rows = [_found_row(found, reference[f"{kind}_driver_{prefix}_found"], detector, kind, k)]
    csim_src, used = _source_similarity(
        generated[f"{prefix}_embedding"],
        reference[f"source_{prefix}_embedding"][:, :k],
        reference[f"source_{prefix}_found"][:, :k],
    )
    rows.append(_row("csim_source", csim_src, found & used, evaluator, kind, k, settings))
    return rows


def _dlib_scores(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """dlib's face-found share, CSIM vs the sources, landmark head pose vs the driver and,
    where there is a target, CSIM, AED (:mod:`bench.metrics.keypoints`) and AKD vs it."""
    from bench.evaluators.dlib_face import EMBEDDING_NAME, LANDMARKS_NAME
    from bench.evaluators.head_pose import NAME as POSE_NAME

    found, emb = generated["dlib_found"], generated["dlib_embedding"]
    rows = _found_and_source_scores(
        generated, reference, "dlib", EMBEDDING_NAME, "dlib-hog", kind, k, settings
    )
    rows += _pose_rows(generated, reference, "dlib", POSE_NAME, kind, k, settings)
    if f"{kind}_target_dlib_found" not in reference:
        return rows
    target_found = reference[f"{kind}_target_dlib_found"]
    both = found & target_found
    target_emb = reference[f"{kind}_target_dlib_embedding"]
    csim = _cosine(emb, target_emb)
    rows.append(_row("csim_target", csim, both, EMBEDDING_NAME, kind, k, settings))
    aed = embedding_distances(emb, target_emb, both)
    rows.append(_row("aed_id", aed, both, EMBEDDING_NAME, kind, k, settings))
    return rows + _keypoint_rows(generated, reference, "dlib", LANDMARKS_NAME, kind, k, settings)


def _pose_rows(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    prefix: str,
    evaluator: str,
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """Head-pose error (mean and per angle) of the generated image vs the driver, both by
    one estimator; a pair where either pose is missing (NaN) is a miss."""
    from bench.metrics.pose import pose_error_degrees

    pose, driver_pose = generated[f"{prefix}_pose"], reference[f"{kind}_driver_{prefix}_pose"]
    pose_ok = np.isfinite(pose).all(1) & np.isfinite(driver_pose).all(1)
    errors = pose_error_degrees(np.nan_to_num(pose), np.nan_to_num(driver_pose))
    rows = []
    for angle in ("mean", "yaw", "pitch", "roll"):
        family = "pose_error" if angle == "mean" else f"pose_error_{angle}"
        rows.append(_row(family, np.asarray(errors[angle]), pose_ok, evaluator, kind, k, settings))
    return rows


def _keypoint_rows(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    prefix: str,
    evaluator: str,
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """AKD and MKR of one landmark detector, generated vs target (a target must exist)."""
    found, target_found = generated[f"{prefix}_found"], reference[f"{kind}_target_{prefix}_found"]
    akd, _ = keypoint_distances(
        generated[f"{prefix}_landmarks"],
        reference[f"{kind}_target_{prefix}_landmarks"],
        found,
        target_found,
    )
    rows = [_row("akd", akd, found & target_found, evaluator, kind, k, settings)]
    return rows + [_mkr_row(found, target_found, evaluator, kind, k, settings)]


def _mtcnn_scores(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """MTCNN's 5-point head pose vs the driver and, where there is a target, AKD and MKR."""
    from bench.evaluators.mtcnn_face import LANDMARKS_NAME, NAME

    rows = _pose_rows(generated, reference, "mtcnn", NAME, kind, k, settings)
    if f"{kind}_target_mtcnn_found" in reference:
        rows += _keypoint_rows(generated, reference, "mtcnn", LANDMARKS_NAME, kind, k, settings)
    return rows


def _mkr_row(
    found: np.ndarray,
    target_found: np.ndarray,
    evaluator: str,
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> Score:
    """MKR over the tuples whose target has a face (``n``), with a bootstrap interval."""
    from bench.metrics.keypoints import missing_keypoint_rate

    missed = missing_keypoint_rate(found, target_found)
    fields: dict[str, Any] = {
        "evaluator": evaluator,
        "evaluator_floor": None,
        "protocol": PROTOCOL,
        "kind": kind,
        "k": k,
        "spread": "bootstrap95 over tuples whose target has a face",
        "extra": {
            "n_missed": int(missed.sum()),
            "definition": f"share of outputs where {evaluator} finds no face and the target has one",
        },
    }
    if len(missed) == 0:
        reason = f"{evaluator}: no target with a face found"
        return Score.unavailable(spec_of("mkr"), reason, 0, ci95=None, **fields)
    bootstrap = (settings["bootstrap"], settings["seed"])
    return Score.from_values(spec_of("mkr"), missed, bootstrap, **fields)


def _facenet_scores(
    generated: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    kind: str,
    k: int,
    settings: dict[str, Any],
) -> list[Score]:
    """facenet's face-found share (MTCNN), CSIM vs the sources and, with a target, vs it."""
    from bench.evaluators.facenet import DETECTOR_NAME
    from bench.evaluators.facenet import NAME as FACENET_NAME

    found, emb = generated["facenet_found"], generated["facenet_embedding"]
    rows = _found_and_source_scores(
        generated, reference, "facenet", FACENET_NAME, DETECTOR_NAME, kind, k, settings
    )
    if f"{kind}_target_facenet_found" in reference:
        both = found & reference[f"{kind}_target_facenet_found"]
        csim = _cosine(emb, reference[f"{kind}_target_facenet_embedding"])
        rows.append(_row("csim_target", csim, both, FACENET_NAME, kind, k, settings))
    return rows
