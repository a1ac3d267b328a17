"""Every metric family's direction, evaluator and extra row fields, declared once.

A metric name is ``family[...]``: ``csim_target[synth-oracle]``. :class:`MetricSpec`
says whether higher is better (or that neither is: a following slope is best at 1,
a leakage accuracy is read against a reference), which evaluator scores it when that is
fixed (``None``: the caller's evaluator, named in the brackets) and which fields beyond
the core ones its rows may carry. ``bench.score.Score`` takes direction and evaluator
from here, and ``write_metrics`` rejects a row that disagrees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Keys every row has.
CORE_KEYS = ("metric", "value", "n", "higher_is_better", "evaluator", "protocol", "k")
#: Keys any row may have: its interval, what the spread is, the evaluator's own limit,
#: why it is n/a, why the method is not applicable there.
#: ``n_missing``: outputs an import with ``--allow-missing`` lacked (N counts the rest).
OPTIONAL_KEYS = (
    "ci95", "spread", "evaluator_floor", "na_reason", "not_applicable", "n_missing",
)  # fmt: skip

Direction = bool | None | Callable[[str, Mapping[str, Any]], bool | None]


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: ``higher_is_better`` (True, False, None for neither, or a
    function of the row's protocol kind and fields), its fixed evaluator (None: named
    by the caller) and the extra row fields it may carry."""

    family: str
    higher_is_better: Direction
    evaluator: str | None = None
    extras: frozenset[str] = frozenset()

    def direction(self, kind: str, fields: Mapping[str, Any]) -> bool | None:
        """The direction of a row of this family in protocol kind ``kind``."""
        if callable(self.higher_is_better):
            return self.higher_is_better(kind, fields)
        return self.higher_is_better

    def evaluator_for(self, evaluator: str | None) -> str:
        """The evaluator of a row: the fixed one, or the caller's (which must be given)."""
        if self.evaluator is not None:
            if evaluator is not None and evaluator != self.evaluator:
                raise ValueError(f"{self.family} is scored by {self.evaluator}, not {evaluator}")
            return self.evaluator
        if evaluator is None:
            raise ValueError(f"{self.family}: name the evaluator that scores it")
        return evaluator


NOT_APPLICABLE = "not_applicable"
FACE_EXTRAS = frozenset({"n_used", "missing_rate"})
FOLLOW_EXTRAS = frozenset(
    {
        "resamples_with_a_line",
        "driver_std_degrees",
        "output_std_degrees",
        "definition",
        "intercept",
        "intercept_ci95",
    }
)
DISTRIBUTION_EXTRAS = frozenset({"n_reference", "sample_label", "std", "weights_sha256"})
VERIFICATION_EXTRAS = frozenset(
    {
        "code",
        "distance",
        "pairs",
        "pairs_file",
        "identities_without_cross_scene_pair",
        "sem",
        "far_target",
        "far_resolution",
        "yaw_gap",
        "yaw_source",
        "n_matched",
        "n_mismatched",
        "matched_accuracy",
        "mismatched_accuracy",
        "scene_factors",
    }
)
#: Verification of the identity code has a direction; leakage and reference rows are read
#: against the scene-only reference instead (no better side).
VERIFICATION_KEYS = (("accuracy", True), ("auc", True), ("eer", False), ("tar_at_far", True))
YAW_GAP_SUFFIXES = ("0_30", "30_60", "over_60")
DISENTANGLEMENT_FAMILIES = (
    "mig",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
    "sap",
)


def _identity_role_only(higher: bool) -> Direction:
    return lambda kind, _fields: higher if kind == "identity" else None


def _specs() -> dict[str, MetricSpec]:
    specs = [
        MetricSpec(NOT_APPLICABLE, None, evaluator="none"),
        MetricSpec("rmse255", False, evaluator="none"),
        MetricSpec("csim_target", True, extras=FACE_EXTRAS),
        MetricSpec("csim_source", True, extras=FACE_EXTRAS),
        MetricSpec("csim_input", True),
        # AED of identity embeddings (FOMM's meaning); aed_exp, the distance of expression
        # parameters, is not built: no expression estimator exists here.
        MetricSpec("aed_id", False, extras=FACE_EXTRAS),
        MetricSpec("akd", False, extras=FACE_EXTRAS),
        # Missing keypoint rate: outputs without a face where the target has one.
        MetricSpec("mkr", False, extras=frozenset({"n_missed", "definition"})),
        MetricSpec("face_found", True),
        *(
            MetricSpec(f"pose_error{suffix}", False, extras=FACE_EXTRAS)
            for suffix in ("", "_yaw", "_pitch", "_roll")
        ),
        *(
            MetricSpec(f"{angle}_follow_{stat}", higher, extras=FOLLOW_EXTRAS)
            for angle in ("yaw", "pitch")
            for stat, higher in (("slope", None), ("r", True))
        ),
        MetricSpec("fd", False, evaluator="synth-oracle", extras=DISTRIBUTION_EXTRAS),
        MetricSpec("kid", False, evaluator="synth-oracle", extras=DISTRIBUTION_EXTRAS),
        MetricSpec("fid", False, evaluator="inception-v3-pool3", extras=DISTRIBUTION_EXTRAS),
        # LPIPS v0.1 vs the reference image; the evaluator is its backbone: alex-v0.1, vgg-v0.1.
        MetricSpec("lpips", False, extras=frozenset({"weights_sha256"})),
        # FVD over I3D Kinetics-400 logits; the evaluator is the I3D weights' variant.
        MetricSpec("fvd", False, extras=DISTRIBUTION_EXTRAS | {"num_frames"}),
        *(
            MetricSpec(
                f"verification_{key}",
                _identity_role_only(higher),
                evaluator="none",
                extras=VERIFICATION_EXTRAS,
            )
            for key, higher in VERIFICATION_KEYS
        ),
        *(
            MetricSpec(
                f"verification_accuracy_yaw_gap_{suffix}",
                _identity_role_only(True),
                evaluator="none",
                extras=VERIFICATION_EXTRAS,
            )
            for suffix in YAW_GAP_SUFFIXES
        ),
        # Pose decodable from a non-identity code is good, from the identity code leakage.
        MetricSpec(
            "probe_pose_r2",
            lambda _kind, fields: fields["code"] != "identity",
            evaluator="linear-probe",
            extras=frozenset({"code"}),
        ),
        MetricSpec(
            "probe_pose_mae",
            lambda _kind, fields: fields["code"] == "identity",
            evaluator="linear-probe",
            extras=frozenset({"code"}),
        ),
        MetricSpec(
            "probe_identity_accuracy", False, evaluator="linear-probe", extras=frozenset({"code"})
        ),
        *(
            MetricSpec(name, True, evaluator="synth-factors", extras=frozenset({"code_dims"}))
            for name in DISENTANGLEMENT_FAMILIES
        ),
    ]
    return {spec.family: spec for spec in specs}


SPECS: dict[str, MetricSpec] = _specs()


def spec_of(family: str) -> MetricSpec:
    """The spec of a metric family (declared here, or by a ``PAIRED`` metric module:
    ``bench.metrics.paired``); an unknown family is a ``KeyError`` listing the known."""
    if family in SPECS:
        return SPECS[family]
    from bench.metrics.paired import paired_metrics  # imports every metric module

    paired = {metric.family: metric.spec for metric in paired_metrics()}
    try:
        return paired[family]
    except KeyError:
        known = ", ".join(sorted({*SPECS, *paired}))
        raise KeyError(f"unknown metric family {family!r}; declared: {known}") from None
