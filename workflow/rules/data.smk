# Preparation: SynthFaces is rendered (`python -m bench prepare`); every real dataset is
# listed, aligned and indexed by `python -m bench.data.real prepare` into the same files.
from bench.data.real.datasets import resolve_root  # noqa: E402
from bench.data.registry import capabilities  # noqa: E402


def dataset_settings(dataset):
    """The dataset's config section; a real dataset's root resolved from config or environment
    (so a changed root reruns preparation, and a missing one is reported before any job runs)."""
    settings = dict(config[dataset])
    if not capabilities(dataset).rendered:
        settings["root"] = str(resolve_root(dataset, settings))
    return settings


def prepare_module(dataset):
    return capabilities(dataset).prepare_module


for _dataset in config["datasets"]:
    dataset_settings(_dataset)  # fail early, naming the key or variable to set


rule prepare:
    output:
        index=f"{DATA}/index.csv",
        landmarks=f"{DATA}/landmarks.npz",
        pairs=f"{DATA}/pairs.txt",
        meta=f"{DATA}/meta.json",
    params:
        settings=lambda w: as_json(dataset_settings(w.dataset)),
        out=lambda w: f"results/data/{w.dataset}",
        module=lambda w: prepare_module(w.dataset),
    threads: workflow.cores
    log:
        "results/logs/prepare/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare/{dataset}.tsv"
    shell:
        "{PY} -m {params.module} prepare {wildcards.dataset} --out {params.out} "
        "--params {params.settings:q} --workers {threads} --log {log}"


rule tuples:
    input:
        rules.prepare.output.meta,
    output:
        f"{DATA}/protocols/pose_transfer.csv",
    params:
        settings=lambda w: as_json(config["protocols"]["pose_transfer"]),
        data=lambda w: f"results/data/{w.dataset}",
    log:
        "results/logs/tuples/{dataset}.log",
    benchmark:
        "results/benchmarks/tuples/{dataset}.tsv"
    shell:
        "{PY} -m bench tuples --data {params.data} --params {params.settings:q} --log {log}"
