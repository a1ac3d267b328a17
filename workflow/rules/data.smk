rule prepare:
    output:
        index=f"{DATA}/index.csv",
        landmarks=f"{DATA}/landmarks.npz",
        pairs=f"{DATA}/pairs.txt",
        meta=f"{DATA}/meta.json",
    params:
        settings=lambda w: as_json(config[w.dataset]),
        out=lambda w: f"results/data/{w.dataset}",
    threads: workflow.cores
    log:
        "results/logs/prepare/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare/{dataset}.tsv"
    shell:
        "{PY} -m bench prepare {wildcards.dataset} --out {params.out} "
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
