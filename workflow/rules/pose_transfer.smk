rule synthesize:
    input:
        model=rules.train.output.model,
        tuples=rules.tuples.output,
    output:
        generated=f"{RUN}/pose_transfer/generated.npz",
        grid=report(
            f"{RUN}/pose_transfer/samples.png",
            caption="../report/pose_transfer_samples.rst",
            category="Pose transfer samples",
            subcategory="{method}",
        ),
    params:
        settings=lambda w: as_json(
            {**config["protocols"]["pose_transfer"], "device": config["train"]["device"],
             "pose_bin_width": config["pose_bin_width"], "k": run_k(w)}
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/synthesize/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/synthesize/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench synthesize --method {wildcards.method} --data {params.data} "
        "--model {input.model} --params {params.settings:q} --out {output.generated} "
        "--grid {output.grid} --threads {threads} --log {log}"


rule score:
    input:
        generated=rules.synthesize.output.generated,
        identity_oracle="results/evaluators/{dataset}/synth-oracle-identity.pt",
        pose_oracle="results/evaluators/{dataset}/synth-oracle-pose.pt",
        tuples=rules.tuples.output,
    output:
        f"{RUN}/pose_transfer/metrics.json",
    params:
        settings=lambda w: as_json(
            {
                **config["scoring"],
                "inception_weights": config["evaluators"]["inception"]["weights_path"],
                "lpips": config["evaluators"]["lpips"],
                "reference_dir": "results/reference",
            }
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/score/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/score/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench score --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --generated {input.generated} "
        "--identity-oracle {input.identity_oracle} --pose-oracle {input.pose_oracle} "
        "--params {params.settings:q} --out {output} --threads {threads} --log {log}"


def run_k(w):
    """The K of protocol 1 a run synthesizes and scores: every K, or a per-K run's own."""
    return run_k_values(w.method, w.seed)


def face_score_params(w):
    """Face-score settings; a per-K run (seed ``0-k1``) scores its own K only."""
    face = config["protocols"]["face_scores"]
    if getattr(w, "seed", None) is not None and run_seed(w.seed).k is not None:
        face = {**face, "k": [k for k in face["k"] if k in run_k(w)]}
    return as_json(
        {
            **face,
            **config["scoring"],
            "facenet_weights": config["evaluators"]["facenet"]["weights_path"],
        }
    )


rule face_reference:
    """Pretrained face evaluators on the tuples' sources, drivers and targets (once per dataset)."""
    input:
        tuples=rules.tuples.output,
    output:
        "results/reference/{dataset}/face_scores.npz",
    params:
        settings=face_score_params,
        data=lambda w: f"results/data/{w.dataset}",
    threads: 1
    log:
        "results/logs/face_reference/{dataset}.log",
    benchmark:
        "results/benchmarks/face_reference/{dataset}.tsv"
    shell:
        "{PY} -m bench face-reference --data {params.data} --params {params.settings:q} "
        "--out {output} --threads {threads} --log {log}"


rule score_faces:
    input:
        generated=rules.synthesize.output.generated,
        reference=rules.face_reference.output,
    output:
        f"{RUN}/pose_transfer/metrics_faces.json",
    params:
        settings=face_score_params,
        data=lambda w: f"results/data/{w.dataset}",
    threads: 1
    log:
        f"results/logs/score_faces/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/score_faces/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench score-faces --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --generated {input.generated} --reference {input.reference} "
        "--params {params.settings:q} --out {output} --threads {threads} --log {log}"
