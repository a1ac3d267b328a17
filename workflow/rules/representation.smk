def coded_runs(dataset):
    """(method, seed) pairs whose method provides an identity or pose code (of a method
    trained per K, the largest K's model), then the external runs (config ``external``,
    seed 0) whose folder has a codes.npz."""
    builtin = [
        (m, s)
        for m, s in runs(dataset, one_k=True)
        if {"identity_code", "pose_code"} & get_method(m).cls.provides
    ]
    folders = config["external"].get(dataset, {})
    coded = [(m, "0") for m, folder in folders.items() if (Path(folder) / CODES_FILE).is_file()]
    return builtin + coded


def verification_files(dataset):
    """The metrics behind the verification table and figure: every coded run, then the
    dataset's scene-only reference row."""
    return [
        *(
            f"results/runs/{dataset}/{m}/seed{s}/representation/metrics.json"
            for m, s in coded_runs(dataset)
        ),
        f"results/reference/{dataset}/scene_verification.json",
    ]


def represent_settings():
    return as_json(
        {
            "device": config["train"]["device"],
            "pose_bin_width": config["pose_bin_width"],
            "disentanglement": config["protocols"]["disentanglement"],
        }
    )


rule represent:
    """Protocol 2 in one job: codes of every test image, verification on pairs.txt (and on
    its same-scene twin, which meta.json names where the dataset has scene groups), t-SNE,
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
        settings=lambda w: represent_settings(),
        data=lambda w: f"results/data/{w.dataset}",
        source=lambda w, input: f"--model {input.model}",
    threads: config["train"]["threads"]
    log:
        f"results/logs/represent/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/represent/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    shell:
        "{PY} -m bench represent --method {wildcards.method} --seed {wildcards.seed} "
        "--data {params.data} {params.source} --params {params.settings:q} "
        "--codes {output.codes} --out {output.metrics} "
        "--disentanglement {output.disentanglement} --figure {output.figure} "
        "--threads {threads} --log {log}"


use rule represent as represent_external with:
    """An external run's codes.npz (config ``external``), checked and scored by the same
    stage as a method's codes, after its folder was imported (rule import_outputs)."""
    input:
        codes=lambda w: str(Path(external_folder(w)) / CODES_FILE),
        provenance=rules.import_outputs.output.provenance,
        meta=rules.prepare.output.meta,
        pairs=rules.prepare.output.pairs,
    wildcard_constraints:
        method="|".join(map(re.escape, EXTERNAL_NAMES)) or "(?!)",
        seed="0",
    params:
        settings=lambda w: represent_settings(),
        data=lambda w: f"results/data/{w.dataset}",
        source=lambda w, input: (
            f"--external-codes {shlex.quote(input.codes)} --provenance {input.provenance}"
        ),


ruleorder: represent_external > represent


rule scene_reference:
    """Protocol 2's scene-only reference (once per dataset, no model): the exact scene
    factors of each test image verified as a code on the same pairs files as the methods'
    codes; n/a rows on a dataset without exact scene factors."""
    input:
        meta=rules.prepare.output.meta,
        pairs=rules.prepare.output.pairs,
    output:
        "results/reference/{dataset}/scene_verification.json",
    params:
        data=lambda w: f"results/data/{w.dataset}",
    log:
        "results/logs/scene_reference/{dataset}.log",
    benchmark:
        "results/benchmarks/scene_reference/{dataset}.tsv"
    shell:
        "{PY} -m bench scene-reference --data {params.data} --out {output} --log {log}"


rule verification_table:
    input:
        lambda w: verification_files(w.dataset),
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
