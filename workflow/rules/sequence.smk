# The sequence protocol (README "Sequences: self-reenactment of a clip"): test sequences rendered apart from
# the dataset, re-enacted by every trained run from their first K frames, scored per frame
# and as video (FVD), gathered into <dataset>_sequence. Only datasets whose capabilities
# (bench.data.registry) have sequences get these jobs: the table's dataset_needs.


def sequence_k(method, seed):
    """The K of protocols.sequence.k a run re-enacts: every K, or for a run of a method
    trained per K (seed ``0-k8``) its own K and, on the largest K's run, any K without a
    per-K run (bench.runs.protocol_k_of_run)."""
    return protocol_k_of_run(run_seed(seed), config["protocols"]["sequence"]["k"], trained_k(method))


def sequence_params(w):
    settings = config["protocols"]["sequence"]
    if run_seed(w.seed).k is not None:
        settings = {**settings, "k": sequence_k(w.method, w.seed)}
    return as_json(
        {
            **settings,
            "device": config["train"]["device"],
            "pose_bin_width": config["pose_bin_width"],
        }
    )


rule sequences:
    """The dataset's test sequences, rendered once (nothing else in the dataset changes)."""
    input:
        rules.prepare.output.meta,
    output:
        f"{DATA}/sequences/index.csv",
    params:
        settings=lambda w: as_json(
            {key: config["protocols"]["sequence"][key] for key in ("frames", "clips")}
        ),
        data=lambda w: f"results/data/{w.dataset}",
    log:
        "results/logs/sequences/{dataset}.log",
    benchmark:
        "results/benchmarks/sequences/{dataset}.tsv"
    shell:
        "{PY} -m bench sequences --data {params.data} --params {params.settings:q} "
        "--out {output} --log {log}"


rule synthesize_sequence:
    input:
        model=rules.train.output.model,
        sequences=rules.sequences.output,
    output:
        f"{RUN}/sequence/generated.npz",
    params:
        settings=sequence_params,
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/synthesize_sequence/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/synthesize_sequence/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench synthesize-sequence --method {wildcards.method} --data {params.data} "
        "--model {input.model} --params {params.settings:q} --out {output} "
        "--threads {threads} --log {log}"


rule score_sequence:
    input:
        generated=f"{RUN}/sequence/generated.npz",
        sequences=rules.sequences.output,
        identity_oracle="results/evaluators/{dataset}/synth-oracle-identity.pt",
        pose_oracle="results/evaluators/{dataset}/synth-oracle-pose.pt",
    output:
        f"{RUN}/sequence/metrics.json",
    params:
        settings=lambda w: as_json(
            {
                **config["scoring"],
                "lpips": config["evaluators"]["lpips"],
                "fvd_weights": config["evaluators"].get("fvd", {}).get("weights_path"),
                # the frames before max(K) are sources of some K: no run scores them
                "skip_frames": max(config["protocols"]["sequence"]["k"]),
            }
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/score_sequence/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/score_sequence/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench score-sequence --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --generated {input.generated} "
        "--identity-oracle {input.identity_oracle} --pose-oracle {input.pose_oracle} "
        "--params {params.settings:q} --out {output} --threads {threads} --log {log}"


def sequence_runs(dataset):
    """Every trained run (no untrained rows: see common.smk's runs; of a method trained per
    K, the runs that re-enact one of protocols.sequence.k: ``sequence_k``) and the external
    runs whose outputs folder holds sequence outputs (sequence_k<K>/)."""
    trained = [(m, s) for m, s in runs(dataset, untrained=False) if sequence_k(m, s)]
    imported = [
        (name, "0")
        for name, folder in config["external"].get(dataset, {}).items()
        if holds_sequences(Path(folder))
    ]
    return trained + imported


rule import_sequence_outputs:
    """A foreign method's re-enacted sequences: frame folders or video files per sequence."""
    input:
        sequences=rules.sequences.output,
        outputs=external_files,
    output:
        f"{RUN}/sequence/generated.npz",
    wildcard_constraints:
        method="|".join(map(re.escape, EXTERNAL_NAMES)) or "(?!)",
        seed="0",
    params:
        folder=external_folder,
        data=lambda w: f"results/data/{w.dataset}",
        run_dir=lambda w: RUN.format(**w),
        k=lambda w: " ".join(map(str, config["protocols"]["sequence"]["k"])),
    log:
        f"results/logs/import_sequence_outputs/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/import_sequence_outputs/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench import {wildcards.dataset} --name {wildcards.method} "
        "--outputs {params.folder:q} --data {params.data} --run-dir {params.run_dir} "
        "--protocols sequence --sequence-k {params.k} --log {log}"


ruleorder: import_sequence_outputs > synthesize_sequence


rule sequence_table:
    input:
        lambda w: [
            f"results/runs/{w.dataset}/{m}/seed{s}/sequence/metrics.json"
            for m, s in sequence_runs(w.dataset)
        ],
    output:
        csv=report(
            "results/tables/{dataset}_sequence.csv",
            caption="../report/method_table.rst",
            category="Tables",
        ),
        md="results/tables/{dataset}_sequence.md",
        tex="results/tables/{dataset}_sequence.tex",
    log:
        "results/logs/tables/{dataset}_sequence.log",
    benchmark:
        "results/benchmarks/tables/{dataset}_sequence.tsv"
    shell:
        "{PY} -m bench tables --table sequence --dataset {wildcards.dataset} "
        "--out-dir results/tables --log {log} {input}"
