from bench.methods.registry import get_method  # noqa: E402


#: Weights the DAG trains for each perceptual backbone (bench/perceptual.py); vgg19 has none.
PERCEPTUAL_WEIGHTS = {
    "synth-geometry": "results/evaluators/{dataset}/synth-geometry.pt",
    "synth-identity": "results/evaluators/{dataset}/synth-identity.pt",
    "synth-oracle": "results/evaluators/{dataset}/synth-oracle-perceptual.pt",
}


def perceptual_sections(w):
    """{config key: weights} of the perceptual losses a method trains with whose weights the
    DAG trains (`perceptual`, and FSHM's `perceptual_identity`)."""
    from bench.perceptual import PERCEPTUAL_SECTIONS

    spec = get_method(w.method)
    method_config = spec.resolved_config(
        config["scale"], config["method_overrides"].get(w.method, {})
    )
    out = {}
    for key in PERCEPTUAL_SECTIONS:
        section = method_config.get(key)
        if section and section.get("backbone") in PERCEPTUAL_WEIGHTS and not section.get("weights_path"):
            out[key] = PERCEPTUAL_WEIGHTS[section["backbone"]].format(dataset=w.dataset)
    return out


def perceptual_oracle(w):
    """The perceptual-loss backbones' weights a method trains with, when the DAG trains them."""
    return list(perceptual_sections(w).values())


def train_params(w):
    spec = get_method(w.method)
    method_config = spec.resolved_config(
        config["scale"], config["method_overrides"].get(w.method, {})
    )
    method_config = run_seed(w.seed).method_config(method_config)  # untrained: steps 0
    for key, path in perceptual_sections(w).items():
        method_config[key]["weights_path"] = path
    return as_json(
        {
            "method": method_config,
            "train": config["train"],
            "pose_bin_width": config["pose_bin_width"],
        }
    )


rule train:
    input:
        rules.prepare.output.meta,
        perceptual_oracle,
    output:
        model=f"{RUN}/model.pt",
        samples=report(
            f"{RUN}/samples.png",
            caption="../report/train_samples.rst",
            category="Training samples",
            subcategory="{method}",
        ),
    params:
        settings=train_params,
        data=lambda w: f"results/data/{w.dataset}",
        run_dir=lambda w: RUN.format(**w),
    threads: config["train"]["threads"]
    resources:
        gpu=lambda w: int(get_method(w.method).cls.trainable and "untrained" not in w.seed),
    log:
        f"results/logs/train/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/train/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench train --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} --run-dir {params.run_dir} --params {params.settings:q} "
        "--threads {threads} --log {log}"
