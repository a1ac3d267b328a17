"""The one list of tables and figures: the CLI, the Snakemake rules and the figures read it.

Each ``Table`` names the protocol rows it reads, the columns it shows (metric family,
header), its title, the notes it always carries and when a configuration writes it.
``table_names`` and ``figure_names`` are what ``workflow/rules/common.smk`` and
``figures.smk`` expand, so a table added here is built, drawn and printed everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Any of these provided by a method makes the verification and disentanglement tables.
CODES = frozenset({"identity_code", "pose_code"})


@dataclass(frozen=True)
class Table:
    """One comparison table (``<dataset>_<name>.{csv,md,tex}``)."""

    name: str
    #: Protocol prefixes whose rows it reads (``pose_transfer/`` reads self and cross).
    protocols: tuple[str, ...]
    #: Displayed columns: (metric family, header); empty where the layout is its own.
    columns: tuple[tuple[str, str], ...]
    title: str
    #: Written when a configured method provides any of these (empty: always).
    needs: frozenset[str] = frozenset()
    #: Written only for datasets with this capability (``bench.data.registry``; None: all).
    dataset_needs: str | None = None
    #: Written only when this ``protocols.<key>.enabled`` is true.
    enabled_by: str | None = None
    #: Drawn as a bar chart of its own (``<dataset>_<name>.png``, rule ``table_figure``).
    bar_figure: bool = False
    notes: tuple[str, ...] = ()


POSE_TRANSFER_COLUMNS = (
    ("ssim", "SSIM"),
    ("psnr", "PSNR dB"),
    ("l1", "L1"),
    ("lpips", "LPIPS"),
    ("csim_target", "CSIM tgt"),
    ("csim_source", "CSIM src"),
    ("pose_error", "pose err °"),
    ("yaw_follow_slope", "yaw slope"),
    ("yaw_follow_r", "yaw r"),
    ("fd", "FD"),
    ("kid", "KID"),
    ("fid", "FID"),
)
FACE_COLUMNS = (
    ("face_found", "face found"),
    ("csim_target", "CSIM tgt"),
    ("csim_source", "CSIM src"),
    ("aed_id", "AED id"),
    ("akd", "AKD px"),
    ("mkr", "MKR"),
    ("pose_error", "pose err °"),
)
RECONSTRUCTION_COLUMNS = (
    ("rmse255", "RMSE (0-255)"),
    ("ssim", "SSIM"),
    ("psnr", "PSNR dB"),
    ("l1", "L1"),
    ("lpips", "LPIPS"),
    ("csim_input", "CSIM"),
    ("fd", "FD"),
    ("kid", "KID"),
    ("fid", "FID"),
)
SEQUENCE_COLUMNS = (
    ("ssim", "SSIM"),
    ("psnr", "PSNR dB"),
    ("l1", "L1"),
    ("lpips", "LPIPS"),
    ("csim_target", "CSIM tgt"),
    ("csim_source", "CSIM src"),
    ("pose_error", "pose err °"),
    ("fvd", "FVD"),
)
DISENTANGLEMENT_COLUMNS = (
    ("mig", "MIG"),
    ("dci_disentanglement", "DCI-D"),
    ("dci_completeness", "DCI-C"),
    ("dci_informativeness", "DCI-I"),
    ("sap", "SAP"),
)

TABLES: tuple[Table, ...] = (
    Table(
        "pose_transfer", ("pose_transfer/",), POSE_TRANSFER_COLUMNS, "pose transfer (protocol 1)"
    ),
    Table(
        "pose_transfer_faces",
        ("pose_transfer/",),
        FACE_COLUMNS,
        "pose transfer scored by pretrained face evaluators (protocol 1)",
        enabled_by="face_scores",
        bar_figure=True,
        notes=(
            "pose err: head pose of the generated image vs the driver, both estimated by the "
            "same evaluator (its bias cancels), as the mean of the absolute yaw, pitch and roll "
            "differences in degrees: the APD (average pose distance) of recent papers, named by "
            "its estimator. AED id (aed_id): L2 distance of identity "
            "embeddings, generated vs target (FOMM's AED); AKD: mean distance in pixels of the "
            "evaluator's landmarks, generated vs target; MKR: share of outputs in which the landmark "
            "evaluator finds no face where the target has one (N: tuples whose target has a "
            "face).",
            "aed_exp (the distance of expression parameters that 2023+ papers call AED) is not "
            "reported: no expression estimator is built; CSIM columns say against what "
            "(csim_target, csim_source).",
            "Two landmark evaluators: dlib-68 / dlib68-pnp (dlib's 68 points, 6 of them fitted "
            "by PnP to the SynthFaces mean head) and mtcnn-5 / mtcnn5-pnp (MTCNN's 5 points: eye "
            "centres, nose tip, mouth corners, fitted by the same PnP; a face whose eyes are "
            "foreshortened to a profile has no pose and counts as a miss).",
        ),
    ),
    Table(
        "verification",
        ("representation/identity", "representation/leakage", "representation/reference"),
        (),
        "verification of codes (protocol 2)",
        needs=CODES,
    ),
    Table(
        "reconstruction",
        ("reconstruction/",),
        RECONSTRUCTION_COLUMNS,
        "reconstruction and sampling",
        needs=frozenset({"reconstruct", "sample"}),
        bar_figure=True,
        notes=(
            "part reconstruct: x vs G(E(x)) on N test images: RMSE on the 0-255 scale (as "
            "Browatzki & Wallraven report), SSIM, PSNR, L1, LPIPS v0.1 (its backbone in the "
            "brackets) and CSIM of the reconstruction to its input.",
            "part sample: N random samples G(z) vs all real test images: FD and KID over the "
            "identity oracle's features, FID over Inception pool3 (small-sample below 2048).",
        ),
    ),
    Table(
        "disentanglement",
        ("disentanglement/",),
        DISENTANGLEMENT_COLUMNS,
        "disentanglement against exact factors",
        needs=CODES,
        dataset_needs="exact_factors",  # every generative factor of every image
        bar_figure=True,
        notes=(
            "Scores of each method's whole code (every code it provides, concatenated) "
            "against the exact factors of N test images: identity and expression (discrete); "
            "yaw, pitch, roll and light azimuth (continuous, 20 bins), as disentanglement_lib "
            "defines MIG, DCI (gradient-boosted trees) and SAP.",
        ),
    ),
    Table(
        "sequence",
        ("sequence/",),
        SEQUENCE_COLUMNS,
        "self-reenactment of sequences",
        needs=frozenset({"transfer"}),
        dataset_needs="sequences",  # rendered test sequences (SynthFaces)
        notes=(
            "part k<K>: each of N test sequences re-enacted from its first K frames (the "
            "sources) by every one of its frames (the drivers); the target of an output is its "
            "driver frame. SSIM, PSNR, L1, LPIPS, CSIM to the target and to the K sources and "
            "pose error (synth oracle vs the exact pose) are means over a sequence's frames "
            "after the first max(K) (the sources), then over sequences (bootstrap over sequences); FVD compares the N re-enacted "
            "videos with the N real ones (I3D features, n/a without its weights).",
        ),
    ),
)
#: Pose-transfer families drawn as bar charts (``<dataset>_pose_transfer_<family>``).
POSE_TRANSFER_BAR_FAMILIES = (
    "ssim", "csim_target", "csim_source", "pose_error", "yaw_follow_slope", "yaw_follow_r",
)  # fmt: skip


def table(name: str) -> Table:
    """The registered table called ``name`` (a clear error naming the known ones)."""
    for entry in TABLES:
        if entry.name == name:
            return entry
    raise KeyError(f"no table {name!r}; known: {', '.join(t.name for t in TABLES)}")


def names() -> list[str]:
    """Every registered table name, in display order."""
    return [t.name for t in TABLES]


def _written(
    entry: Table,
    dataset: str,
    provided: set[str],
    enabled: dict[str, bool],
    has: Callable[[str, str], bool],
) -> bool:
    if entry.needs and not entry.needs & provided:
        return False
    if entry.dataset_needs and not has(dataset, entry.dataset_needs):
        return False
    return entry.enabled_by is None or bool(enabled.get(entry.enabled_by, False))


def table_names(
    datasets: Iterable[str],
    provided: Iterable[str],
    enabled: dict[str, bool],
    has: Callable[[str, str], bool],
) -> list[str]:
    """``<dataset>_<table>`` of every table a configuration writes.

    ``provided``: the union of the configured methods' ``provides``; ``enabled``: protocol
    switches (``{"face_scores": True}``); ``has(dataset, capability)``: whether a dataset
    has a capability (``exact_factors``). Tables for every dataset come first, per dataset,
    then the dataset-specific ones (the order ``make run`` has always listed them in).
    """
    provided, datasets = set(provided), list(datasets)
    general = [t for t in TABLES if not t.dataset_needs]
    specific = [t for t in TABLES if t.dataset_needs]
    return [
        f"{dataset}_{entry.name}"
        for group in (general, specific)
        for dataset in datasets
        for entry in group
        if _written(entry, dataset, provided, enabled, has)
    ]


def metric_figure_names(provided: Iterable[str]) -> list[str]:
    """The figures ``bench figures`` draws from pose-transfer and verification rows."""
    names = [f"pose_transfer_{family}" for family in POSE_TRANSFER_BAR_FAMILIES]
    names.append("kshot")
    if CODES & set(provided):
        names.append("verification")
    return names


def table_figure_names(dataset: str, written: Iterable[str]) -> list[str]:
    """The tables of ``dataset`` among ``written`` (``table_names``) drawn as bar charts."""
    written = set(written)
    return [t.name for t in TABLES if t.bar_figure and f"{dataset}_{t.name}" in written]
