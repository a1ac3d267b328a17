# Reconstruction and sampling (methods that provide reconstruct or sample), and
# disentanglement of the codes against SynthFaces' exact factors.


def autoencoding_runs(dataset):
    """(method, seed) pairs whose method provides reconstruct or sample (of a method
    trained per K, the largest K's model)."""
    return [
        (m, s)
        for m, s in runs(dataset, untrained=False, one_k=True)
        if {"reconstruct", "sample"} & get_method(m).cls.provides
    ]


rule score_reconstruction:
    input:
        model=rules.train.output.model,
        identity_oracle="results/evaluators/{dataset}/synth-oracle-identity.pt",
        pose_oracle="results/evaluators/{dataset}/synth-oracle-pose.pt",
    output:
        f"{RUN}/reconstruction/metrics.json",
    params:
        settings=lambda w: as_json(
            {
                **config["protocols"]["reconstruction"],
                "bootstrap": config["scoring"]["bootstrap"],
                "device": config["train"]["device"],
                "pose_bin_width": config["pose_bin_width"],
                "inception_weights": config["evaluators"]["inception"]["weights_path"],
                "lpips": config["evaluators"]["lpips"],
                "reference_dir": "results/reference",
            }
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/score_reconstruction/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/score_reconstruction/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench score-reconstruction --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --model {input.model} "
        "--identity-oracle {input.identity_oracle} --pose-oracle {input.pose_oracle} "
        "--params {params.settings:q} --out {output} --threads {threads} --log {log}"


def method_table_rule_files(dataset, table):
    if table == "reconstruction":
        return [
            f"results/runs/{dataset}/{m}/seed{s}/reconstruction/metrics.json"
            for m, s in autoencoding_runs(dataset)
        ]
    return [
        f"results/runs/{dataset}/{m}/seed{s}/representation/disentanglement.json"
        for m, s in coded_runs(dataset)
    ]


rule method_table:
    """The reconstruction and disentanglement tables."""
    input:
        lambda w: method_table_rule_files(w.dataset, w.table),
    output:
        csv=report(
            "results/tables/{dataset}_{table}.csv",
            caption="../report/method_table.rst",
            category="Tables",
        ),
        md="results/tables/{dataset}_{table}.md",
        tex="results/tables/{dataset}_{table}.tex",
    wildcard_constraints:
        table="reconstruction|disentanglement",
    log:
        "results/logs/tables/{dataset}_{table}.log",
    benchmark:
        "results/benchmarks/tables/{dataset}_{table}.tsv"
    shell:
        "{PY} -m bench tables --table {wildcards.table} --dataset {wildcards.dataset} "
        "--out-dir results/tables --log {log} {input}"
