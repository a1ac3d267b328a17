# Shared helpers: config validation (schema + method registry) and target lists.
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent))

from bench.config import trained_seeds, validate_config  # noqa: E402
from bench.data.registry import capabilities  # noqa: E402
from bench.external.import_ import holds_pose_transfer, holds_sequences  # noqa: E402
from bench.methods.requirements import check_requirements  # noqa: E402
from bench.runs import check_per_k_requirements, method_runs, one_model_per_seed  # noqa: E402
from bench.runs import applicable_k, per_k_mode, protocol_k, protocol_k_of_run  # noqa: E402
from bench.runs import run_seed  # noqa: E402

_CONFIG_SOURCE = "config (config/config.yaml + profile + --config)"
_validated = validate_config(dict(config), _CONFIG_SOURCE)
# Every method's training grouping and group size, and protocol 1's K, against each
# dataset's settings: a mismatch stops here, before any job, naming method and dataset.
check_requirements(_validated, _CONFIG_SOURCE)
check_per_k_requirements(_validated, _CONFIG_SOURCE)  # methods trained per K: each K's k_train
config.clear()
config.update(_validated)

# The interpreter running Snakemake runs every stage, so `make run` needs no activated venv.
PY = sys.executable
DATA = "results/data/{dataset}"
RUN = "results/runs/{dataset}/{method}/seed{seed}"


wildcard_constraints:
    dataset="[a-z0-9_]+",
    method="[a-z0-9_]+",
    seed=r"\d+(-untrained)?(-k[1-9]\d*)?",


def as_json(value):
    return json.dumps(value, sort_keys=True)


def method_run_seeds(method, untrained=True):
    """A method's trained and untrained runs (bench.runs.RunSeed): one per seed, or, for a
    method whose config sets ``per_k`` (bench.runs), one per (seed, K of protocol 1)."""
    from bench.methods.registry import get_method

    spec = get_method(method)
    resolved = spec.resolved_config(config["scale"], config["method_overrides"].get(method, {}))
    return method_runs(
        trained_seeds(config, method),
        protocol_k(config),
        per_k_mode(resolved, method),
        untrained and config["untrained_rows"] and spec.cls.trainable,
        spec.cls.not_applicable_k,
    )


def trained_k(method):
    """The K a method has per-K runs of (bench.runs.applicable_k)."""
    from bench.methods.registry import get_method

    return applicable_k(protocol_k(config), get_method(method).cls.not_applicable_k)


def run_k_values(method, seed):
    """The K of protocol 1 a run synthesizes and scores (bench.runs.RunSeed.k_values)."""
    from bench.methods.registry import get_method

    return run_seed(seed).k_values(protocol_k(config), get_method(method).cls.not_applicable_k)


def runs(dataset, untrained=True, external=False, one_k=False, k=None):
    """(method, seed) pairs trained on a dataset, in config order, then the untrained rows
    (and, with ``external``, the imported outputs of config ``external`` whose folder holds
    pose-transfer outputs, as seed 0; a folder of sequences only has no pose-transfer row).

    With ``untrained_rows``, every trainable method is also scored at its initialisation
    (seed ``<first>-untrained``, steps 0): the row that shows what training adds. Only the
    oracle-scored pose-transfer and representation tables carry it; the pretrained face
    scores and reconstruction ask for ``untrained=False`` (the row costs a job each and
    shows nothing there that the other tables do not).

    A method trained per K (config ``per_k``) has one run per K (``0-k1``, ``0-k8``);
    ``one_k`` keeps, for the stages without K, only its largest K's run; ``k`` keeps only
    the per-K runs that score one of those K.
    """
    trained, first = [], []
    for m in config["methods"]:
        method_trained, method_untrained = method_run_seeds(m, untrained)
        if one_k:
            method_trained = one_model_per_seed(method_trained)
            method_untrained = one_model_per_seed(method_untrained)
        keep = lambda run: k is None or run.k is None or set(run_k_values(m, str(run))) & set(k)
        trained += [(m, str(run)) for run in method_trained if keep(run)]
        first += [(m, str(run)) for run in method_untrained if keep(run)]
    imported = [
        (name, "0")
        for name, folder in config["external"].get(dataset, {}).items()
        if external and holds_pose_transfer(Path(folder))
    ]
    return trained + first + imported


def sweep_seed(method):
    """The run whose model draws a method's pose sweep: its first seed (its largest K)."""
    return str(one_model_per_seed(method_run_seeds(method, untrained=False)[0])[0])


def table_names():
    """Every table of every dataset, as bench.report.registry lists them: pose transfer
    always (by the synth oracle and, when enabled, by pretrained face evaluators),
    verification when codes exist (a built-in method's, or an external folder's codes.npz),
    reconstruction when a method reconstructs or samples, disentanglement on datasets with
    exact factors."""
    from bench.external import CODES_FILE
    from bench.methods.registry import get_method
    from bench.report.registry import CODES
    from bench.report.registry import table_names as registered_tables

    provided = set().union(*(get_method(m).cls.provides for m in config["methods"]))
    folders = [Path(f) for named in config["external"].values() for f in named.values()]
    if any((folder / CODES_FILE).is_file() for folder in folders):
        provided |= CODES
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


_PRELOAD_SERVER = []


def start_preload_server():
    """bench/preload_server.py for a local run (config runtime.preload_server): jobs fork
    from a process that imported torch once. Never for cluster jobs (their own nodes)."""
    import os
    from bench.preload_server import start_server

    if (
        config["runtime"]["preload_server"]
        and workflow.local_exec
        and workflow.is_main_process
        and not os.environ.get("SLURM_JOB_ID")
    ):
        log = Path("results/logs/preload_server.log")
        _PRELOAD_SERVER.append(start_server(PY, log))


def stop_preload_server():
    from bench.preload_server import stop_server

    while _PRELOAD_SERVER:
        stop_server(*_PRELOAD_SERVER.pop())


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
