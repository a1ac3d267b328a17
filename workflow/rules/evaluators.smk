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
        # "perceptual": a second identity oracle (another seed), the backbone
        # `perceptual.backbone: synth-oracle` (bench/perceptual.py); built only when a method
        # selects it. The default backbone is synth-geometry (rule train_synth_geometry).
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


rule train_synth_geometry:
    input:
        rules.prepare.output.meta,
    output:
        model="results/evaluators/{dataset}/synth-geometry.pt",
        quality="results/evaluators/{dataset}/synth-geometry.json",
    params:
        # The perceptual-loss backbone `perceptual.backbone: synth-geometry`: landmarks,
        # expressions and light regressed from renders of people no dataset holds, at the
        # dataset's resolution (bench/evaluators/synth_geometry.py); shares no identity and
        # no objective with the oracles that score the methods.
        settings=lambda w: as_json(config["evaluators"]["synth_geometry"]),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        "results/logs/evaluators/{dataset}/geometry.log",
    benchmark:
        "results/benchmarks/evaluators/{dataset}/geometry.tsv"
    shell:
        "{PY} -m bench.evaluators.synth_geometry --data {params.data} "
        "--params {params.settings:q} --out {output.model} --quality {output.quality} "
        "--threads {threads} --log {log}"


rule train_synth_identity:
    input:
        rules.prepare.output.meta,
    output:
        model="results/evaluators/{dataset}/synth-identity.pt",
        quality="results/evaluators/{dataset}/synth-identity.json",
    params:
        # The face-recognition perceptual backbone `perceptual_identity.backbone:
        # synth-identity` (FSHM's VGGFace half of L_CNT): a VGG-style classifier of people no
        # dataset holds, rendered at the dataset's resolution (bench/evaluators/synth_identity.py).
        # Built only when a method selects it (rules/train.smk: PERCEPTUAL_WEIGHTS).
        settings=lambda w: as_json(config["evaluators"]["synth_identity"]),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        "results/logs/evaluators/{dataset}/identity-backbone.log",
    benchmark:
        "results/benchmarks/evaluators/{dataset}/identity-backbone.tsv"
    shell:
        "{PY} -m bench.evaluators.synth_identity --data {params.data} "
        "--params {params.settings:q} --out {output.model} --quality {output.quality} "
        "--threads {threads} --log {log}"
