rule train_evaluators:
    input:
        rules.prepare.output.meta,
    output:
        model="results/evaluators/{dataset}/synth-oracle.pt",
        quality="results/evaluators/{dataset}/synth-oracle.json",
    params:
        settings=lambda w: as_json(config["evaluators"]["synth_oracle"]),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        "results/logs/evaluators/{dataset}.log",
    benchmark:
        "results/benchmarks/evaluators/{dataset}.tsv"
    shell:
        "{PY} -m bench train-evaluators --data {params.data} --params {params.settings:q} "
        "--out {output.model} --quality {output.quality} --threads {threads} --log {log}"
