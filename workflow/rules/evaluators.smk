rule train_evaluator:
    input:
        rules.prepare.output.meta,
    output:
        model="results/evaluators/{dataset}/synth-oracle-{part}.pt",
        quality="results/evaluators/{dataset}/synth-oracle-{part}.json",
    wildcard_constraints:
        part="identity|pose|perceptual",
    params:
        settings=lambda w: as_json(config["evaluators"]["synth_oracle"][w.part]),
        # "perceptual": a second identity oracle (another seed), the backbone of the
        # perceptual losses (bench/perceptual.py), so no method trains on its CSIM scorer.
        trainer=lambda w: "identity" if w.part == "perceptual" else w.part,
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        "results/logs/evaluators/{dataset}/{part}.log",
    benchmark:
        "results/benchmarks/evaluators/{dataset}/{part}.tsv"
    shell:
        "{PY} -m bench train-evaluator {params.trainer} --data {params.data} "
        "--params {params.settings:q} --out {output.model} --quality {output.quality} "
        "--threads {threads} --log {log}"
