# Shared helpers: config validation (schema + method registry) and target lists.
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent))

from bench.config import trained_seeds, validate_config  # noqa: E402
from bench.data.registry import capabilities  # noqa: E402
from bench.methods.requirements import check_requirements  # noqa: E402

_CONFIG_SOURCE = "config (config/config.yaml + profile + --config)"
_validated = validate_config(dict(config), _CONFIG_SOURCE)
# Every method's training grouping and group size, and protocol 1's K, against each
# dataset's settings: a mismatch stops here, before any job, naming method and dataset.
check_requirements(_validated, _CONFIG_SOURCE)
config.clear()
config.update(_validated)

# The interpreter running Snakemake runs every stage, so `make run` needs no activated venv.
PY = sys.executable
DATA = "results/data/{dataset}"
RUN = "results/runs/{dataset}/{method}/seed{seed}"


wildcard_constraints:
    dataset="[a-z0-9_]+",
    method="[a-z0-9_]+",
    seed=r"\d+(-untrained)?",


def as_json(value):
    return json.dumps(value, sort_keys=True)


def runs(dataset, untrained=True, external=False):
    """(method, seed) pairs trained on a dataset, in config order, then the untrained rows
    (and, with ``external``, the imported outputs of config ``external``, as seed 0).

    With ``untrained_rows``, every trainable method is also scored at its initialisation
    (seed ``<first>-untrained``, steps 0): the row that shows what training adds. Only the
    oracle-scored pose-transfer and representation tables carry it; the pretrained face
    scores and reconstruction ask for ``untrained=False`` (the row costs a job each and
    shows nothing there that the other tables do not).
    """
    from bench.methods.registry import get_method

    trained = [(m, str(s)) for m in config["methods"] for s in trained_seeds(config, m)]
    untrained = [
        (m, f"{config['seeds'][0]}-untrained")
        for m in config["methods"]
        if untrained and config["untrained_rows"] and get_method(m).cls.trainable
    ]
    imported = [(m, "0") for m in config["external"].get(dataset, {})] if external else []
    return trained + untrained + imported


def table_names():
    """Every table of every dataset, as bench.report.registry lists them: pose transfer
    always (by the synth oracle and, when enabled, by pretrained face evaluators),
    verification when codes exist, reconstruction when a method reconstructs or samples,
    disentanglement on datasets with exact factors."""
    from bench.methods.registry import get_method
    from bench.report.registry import table_names as registered_tables

    provided = set().union(*(get_method(m).cls.provides for m in config["methods"]))
    enabled = {"face_scores": config["protocols"]["face_scores"]["enabled"]}
    return registered_tables(config["datasets"], provided, enabled, has=dataset_has)


def dataset_has(dataset, capability):
    """Whether a dataset has a capability (``exact_factors``, ...; bench.data.registry)."""
    return getattr(capabilities(dataset), capability)


def all_tables():
    return expand("results/tables/{name}.{ext}", name=table_names(), ext=["csv", "md", "tex"])


def all_figures():
    """Pose sweeps (SynthFaces: they need rendered exact targets), bar charts of every
    table, K-shot curves (PNG and PDF)."""
    return [
        f"results/figures/{dataset}_{name}.{ext}"
        for dataset in config["datasets"]
        for name in [
            *(["pose_sweep"] if capabilities(dataset).exact_targets else []),
            *metric_figure_names(),
            *table_figure_names(dataset),
        ]
        for ext in ("png", "pdf")
    ]


def print_result_locations():
    root = Path.cwd() / "results"
    print("\nidpose-bench finished. Results:")
    print(f"  tables:  {root / 'tables'}/*.{{csv,md,tex}}")
    print(f"  runs:    {root / 'runs'}/<dataset>/<method>/seed<k>/ (checkpoints, logs, sample grids)")
    print(f"  figures: {root / 'figures'}/*.{{png,pdf}} and")
    print(f"           {root / 'runs'}/<dataset>/<method>/seed<k>/representation/tsne.{{png,pdf}}")
    print(f"  report:  snakemake --report {root / 'report.html'}  (make run writes it)")
    from bench.report.formats import terminal_view
    from bench.report.registry import names

    for dataset in config["datasets"]:
        for name in names():  # the full tables and their notes stay in the files
            table = root / "tables" / f"{dataset}_{name}.md"
            if table.exists():
                print("\n" + terminal_view(table.read_text(), str(table)))
