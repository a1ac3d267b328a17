rule train_evaluator:
    input:
        rules.prepare.output.meta,
    output:
        model="results/evaluators/{dataset}/synth-oracle-{part}.pt",
        quality="results/evaluators/{dataset}/synth-oracle-{part}.json",
    wildcard_constraints:
        part="identity|pose",
    params:
        settings=lambda w: as_json(config["evaluators"]["synth_oracle"][w.part]),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        "results/logs/evaluators/{dataset}/{part}.log",
    benchmark:
        "results/benchmarks/evaluators/{dataset}/{part}.tsv"
    shell:
        "{PY} -m bench train-evaluator {wildcards.part} --data {params.data} "
        "--params {params.settings:q} --out {output.model} --quality {output.quality} "
        "--threads {threads} --log {log}"
