from bench.report.registry import TABLES as REPORT_TABLES  # noqa: E402


def transfer_methods():
    """Methods that provide transfer, in config order (their first seed draws the sweep;
    for a method trained per K, its largest K's model: ``sweep_seed``)."""
    return [m for m in config["methods"] if "transfer" in get_method(m).cls.provides]


rule sweep_drivers:
    input:
        rules.prepare.output.meta,
    output:
        "results/data/{dataset}/protocols/pose_sweep.npz",
    params:
        data=lambda w: f"results/data/{w.dataset}",
    log:
        "results/logs/sweep_drivers/{dataset}.log",
    benchmark:
        "results/benchmarks/sweep_drivers/{dataset}.tsv"
    shell:
        "{PY} -m bench sweep-drivers --data {params.data} --out {output} --log {log}"


rule sweep:
    input:
        model=rules.train.output.model,
        sweep=rules.sweep_drivers.output,
    output:
        f"{RUN}/pose_sweep.npz",
    params:
        settings=lambda w: as_json(
            {"device": config["train"]["device"], "pose_bin_width": config["pose_bin_width"]}
        ),
        data=lambda w: f"results/data/{w.dataset}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/sweep/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/sweep/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench sweep --method {wildcards.method} --data {params.data} --model {input.model} "
        "--params {params.settings:q} --sweep {input.sweep} --out {output} "
        "--threads {threads} --log {log}"


rule sweep_figure:
    input:
        sweep=rules.sweep_drivers.output,
        # labels each row with the yaw slope and r this oracle reads (as the score job does)
        pose_oracle="results/evaluators/{dataset}/synth-oracle-pose.pt",
        rows=lambda w: [
            f"results/runs/{w.dataset}/{m}/seed{sweep_seed(m)}/pose_sweep.npz"
            for m in transfer_methods()
        ],
    output:
        png=report(
            "results/figures/{dataset}_pose_sweep.png",
            caption="../report/pose_sweep.rst",
            category="Figures",
        ),
        pdf="results/figures/{dataset}_pose_sweep.pdf",
    params:
        rows=lambda w, input: " ".join(
            f"{m}={path}" for m, path in zip(transfer_methods(), input.rows)
        ),
    log:
        "results/logs/figures/{dataset}_pose_sweep.log",
    shell:
        "{PY} -m bench sweep-figure --dataset {wildcards.dataset} --sweep {input.sweep} "
        "--pose-oracle {input.pose_oracle} "
        "--out-stem results/figures/{wildcards.dataset}_pose_sweep --log {log} {params.rows}"


def metric_figure_names():
    """The figures `bench figures` writes for this config (bench.report.registry)."""
    from bench.report.registry import metric_figure_names as registered_figures

    return registered_figures(set().union(*(get_method(m).cls.provides for m in config["methods"])))


rule metric_figures:
    input:
        pose_transfer=pose_transfer_metrics,
        representation=lambda w: verification_files(w.dataset),
    output:
        [
            report(
                f"results/figures/{{dataset}}_{name}.png",
                caption="../report/metric_figures.rst",
                category="Figures",
            )
            for name in metric_figure_names()
        ],
        [f"results/figures/{{dataset}}_{name}.pdf" for name in metric_figure_names()],
    log:
        "results/logs/figures/{dataset}_metrics.log",
    benchmark:
        "results/benchmarks/figures/{dataset}_metrics.tsv"
    shell:
        "{PY} -m bench figures --dataset {wildcards.dataset} --out-dir results/figures "
        "--log {log} {input}"


def table_figure_names(dataset):
    """Bar charts of the method tables this config writes for a dataset."""
    from bench.report.registry import table_figure_names as registered_figures

    return registered_figures(dataset, table_names())


def table_figure_files(dataset, table):
    """The metrics files behind one method table (the same as its table rule reads)."""
    if table == "pose_transfer_faces":
        return face_score_files(dataset)
    return method_table_rule_files(dataset, table)


rule table_figure:
    """Bar charts of the face, reconstruction and disentanglement tables."""
    input:
        lambda w: table_figure_files(w.dataset, w.table),
    output:
        png=report(
            "results/figures/{dataset}_{table}.png",
            caption="../report/table_figure.rst",
            category="Figures",
        ),
        pdf="results/figures/{dataset}_{table}.pdf",
    wildcard_constraints:
        table="|".join(t.name for t in REPORT_TABLES if t.bar_figure),
    log:
        "results/logs/figures/{dataset}_{table}.log",
    benchmark:
        "results/benchmarks/figures/{dataset}_{table}.tsv"
    shell:
        "{PY} -m bench figures --table {wildcards.table} --dataset {wildcards.dataset} "
        "--out-dir results/figures --log {log} {input}"


rule figures:
    """Every table and figure, rebuilt from the stored metrics.json files (no retraining)."""
    input:
        all_tables(),
        all_figures(),
