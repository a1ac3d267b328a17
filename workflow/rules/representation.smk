def coded_runs(dataset):
    """(method, seed) pairs whose method provides an identity or pose code."""
    return [
        (m, s)
        for m, s in runs(dataset)
        if {"identity_code", "pose_code"} & get_method(m).cls.provides
    ]


rule represent:
    """Protocol 2 in one job: codes of every test image, verification on pairs.txt, t-SNE,
    and MIG/DCI/SAP against the exact factors (a not-applicable row where there are none)."""
    input:
        model=rules.train.output.model,
        meta=rules.prepare.output.meta,
        pairs=rules.prepare.output.pairs,
    output:
        codes=f"{RUN}/representation/codes.npz",
        metrics=f"{RUN}/representation/metrics.json",
        disentanglement=f"{RUN}/representation/disentanglement.json",
        figure=report(
            f"{RUN}/representation/tsne.png",
            caption="../report/tsne.rst",
            category="t-SNE of codes",
            subcategory="{method}",
        ),
        pdf=f"{RUN}/representation/tsne.pdf",
    params:
        settings=lambda w: as_json(
            {
                "device": config["train"]["device"],
                "pose_bin_width": config["pose_bin_width"],
                "disentanglement": config["protocols"]["disentanglement"],
            }
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/represent/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/represent/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench represent --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --model {input.model} --params {params.settings:q} "
        "--codes {output.codes} --out {output.metrics} "
        "--disentanglement {output.disentanglement} --figure {output.figure} "
        "--threads {threads} --log {log}"


rule verification_table:
    input:
        lambda w: [
            f"results/runs/{w.dataset}/{m}/seed{s}/representation/metrics.json"
            for m, s in coded_runs(w.dataset)
        ],
    output:
        csv=report(
            "results/tables/{dataset}_verification.csv",
            caption="../report/verification_table.rst",
            category="Tables",
        ),
        md="results/tables/{dataset}_verification.md",
        tex="results/tables/{dataset}_verification.tex",
    log:
        "results/logs/tables/{dataset}_verification.log",
    benchmark:
        "results/benchmarks/tables/{dataset}_verification.tsv"
    shell:
        "{PY} -m bench tables --table verification --dataset {wildcards.dataset} "
        "--out-dir results/tables --log {log} {input}"
