def pose_transfer_metrics(w):
    return [
        f"results/runs/{w.dataset}/{m}/seed{s}/pose_transfer/metrics.json"
        for m, s in runs(w.dataset, external=True)
    ]


rule pose_transfer_table:
    input:
        pose_transfer_metrics,
    output:
        csv=report(
            "results/tables/{dataset}_pose_transfer.csv",
            caption="../report/pose_transfer_table.rst",
            category="Tables",
        ),
        md="results/tables/{dataset}_pose_transfer.md",
        tex="results/tables/{dataset}_pose_transfer.tex",
    log:
        "results/logs/tables/{dataset}.log",
    benchmark:
        "results/benchmarks/tables/{dataset}.tsv"
    shell:
        "{PY} -m bench tables --dataset {wildcards.dataset} --out-dir results/tables "
        "--log {log} {input}"


def face_score_files(dataset):
    """The pretrained-face scores of every trained run (no untrained rows: see ``runs``;
    of a method trained per K, the runs of the K that protocols.face_scores.k lists)."""
    return [
        f"results/runs/{dataset}/{m}/seed{s}/pose_transfer/metrics_faces.json"
        for m, s in runs(
            dataset, untrained=False, external=True, k=config["protocols"]["face_scores"]["k"]
        )
    ]


rule face_table:
    input:
        lambda w: face_score_files(w.dataset),
    output:
        csv=report(
            "results/tables/{dataset}_pose_transfer_faces.csv",
            caption="../report/face_table.rst",
            category="Tables",
        ),
        md="results/tables/{dataset}_pose_transfer_faces.md",
        tex="results/tables/{dataset}_pose_transfer_faces.tex",
    log:
        "results/logs/tables/{dataset}_faces.log",
    benchmark:
        "results/benchmarks/tables/{dataset}_faces.tsv"
    shell:
        "{PY} -m bench tables --table pose_transfer_faces --dataset {wildcards.dataset} "
        "--out-dir results/tables --log {log} {input}"


rule tables:
    """Every table, rebuilt from the stored metrics.json files (no retraining)."""
    input:
        all_tables(),


rule evaluators:
    """Only the SynthFaces oracles and their measured quality."""
    input:
        expand(
            "results/evaluators/{dataset}/synth-oracle-{part}.json",
            dataset=config["datasets"],
            part=["identity", "pose"],
        ),
