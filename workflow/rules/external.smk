# Methods outside methods/ (README "Score your own method"): config `external: {<dataset>:
# {<name>: <folder>}}`. Each folder is imported as run <name>/seed0: import_outputs writes the
# generated.npz synthesize writes for a built-in method, so score and score_faces score it
# and the tables gather its rows (common.smk's runs(..., external=True)). A folder with
# codes.npz also gets protocol 2 (representation.smk's represent_external, coded_runs).
import re  # noqa: E402
import shlex  # noqa: E402

from bench.errors import ConfigError  # noqa: E402
from bench.external import CODES_FILE  # noqa: E402
from bench.methods.registry import method_registry  # noqa: E402


def _external_names():
    """Every external name; one that is a built-in method or an unconfigured dataset stops
    the DAG build, naming the key."""
    names = set()
    for dataset, named in config["external"].items():
        if dataset not in config["datasets"]:
            raise ConfigError(f"external.{dataset}: {dataset} is not in datasets")
        for name in named:
            if name in method_registry():
                raise ConfigError(f"external.{dataset}.{name}: a built-in method has that name")
            names.add(name)
    return sorted(names)


EXTERNAL_NAMES = _external_names()


def external_folder(w):
    return config["external"][w.dataset][w.method]


def external_files(w):
    """Every file of the folder, so a changed, added or removed output re-imports it."""
    folder = Path(external_folder(w))
    if not folder.is_dir():
        raise ConfigError(f"external.{w.dataset}.{w.method}: {folder} is not a folder")
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


rule import_outputs:
    """A foreign method's outputs, validated against the tuples (python -m bench import)."""
    input:
        tuples=rules.tuples.output,
        outputs=external_files,
    output:
        generated=f"{RUN}/pose_transfer/generated.npz",
        provenance=f"{RUN}/pose_transfer/external.json",
    wildcard_constraints:
        method="|".join(map(re.escape, EXTERNAL_NAMES)) or "(?!)",
        seed="0",
    params:
        folder=external_folder,
        data=lambda w: f"results/data/{w.dataset}",
        run_dir=lambda w: RUN.format(**w),
        k=lambda w: " ".join(map(str, config["protocols"]["pose_transfer"]["k"])),
    log:
        f"results/logs/import_outputs/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/import_outputs/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench import {wildcards.dataset} --name {wildcards.method} "
        "--outputs {params.folder:q} --data {params.data} --run-dir {params.run_dir} "
        "--k {params.k} --protocols pose_transfer --no-codes-copy --log {log}"


ruleorder: import_outputs > synthesize
