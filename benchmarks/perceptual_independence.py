"""How twinned is a perceptual-loss backbone with the CSIM oracle? Correlate their distances.

Renders image pairs of a prepared SynthFaces dataset's *test* identities (exactly as the
dataset renders them: its identity seeds, resolution, supersampling and shape gain), four
kinds in equal numbers:

- ``same_identity_other_pose``: one person, one scene, the pose redrawn (Scene.sample's ranges);
- ``other_identity_same_scene``: two test people under the exact same scene;
- ``blurred``: an image and its Gaussian blur (sigma U(0.5, 2) px);
- ``shifted``: an image and itself rolled by 1-3 px in x and y.

For each pair it computes the CSIM oracle's distance, ``1 - cos`` of its identity embeddings
(the distance CSIM[synth-oracle] scores), and, for each backbone, the perceptual distance a
method trains with (``PerceptualLoss.distances``: ``sum_l w_l mean|phi_l(x) - phi_l(y)|``).
Four reference rows bracket them: the CSIM oracle's own trunk used as a perceptual
backbone (``csim-oracle-features``: the scoring network itself), an untrained ConvTrunk of
the same architecture (``random-convtrunk``: what any such feature distance shares with CSIM
on these pairs), an untrained VGGStack (``random-vggstack``: the same for synth-identity's
architecture) and the mean absolute pixel difference (``pixel-l1``).

Pearson and Spearman correlations (scipy.stats) over all pairs and within each kind, with
95% bootstrap intervals over pairs. Example (the README's numbers)::

    python benchmarks/perceptual_independence.py --data results/data/synthfaces \\
        --csim-oracle results/evaluators/synthfaces/synth-oracle-identity.pt \\
        --backbone synth-geometry=results/evaluators/synthfaces/synth-geometry.pt \\
        --backbone synth-oracle=results/evaluators/synthfaces/synth-oracle-perceptual.pt \\
        --backbone synth-identity=results/evaluators/synthfaces/synth-identity.pt \\
        --pairs 1000 --out /tmp/perceptual_independence.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data.synthfaces import Identity, Renderer, Scene  # noqa: E402
from bench.evaluators.synth_oracle import ConvTrunk, gaussian_blur  # noqa: E402
from bench.perceptual import build_perceptual, save_random_weights  # noqa: E402
from bench.train import load_checkpoint  # noqa: E402

KINDS = ("same_identity_other_pose", "other_identity_same_scene", "blurred", "shifted")


def render_pairs(data: Path, n_pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list]:
    """``n_pairs`` image pairs (float [0, 1], ``[N, 3, H, W]`` each) and each pair's kind."""
    meta = json.loads((data / "meta.json").read_text())
    settings = meta["settings"]
    index = pd.read_csv(data / "index.csv", usecols=["identity", "split", "identity_seed"])
    seeds = index[index.split == "test"].drop_duplicates("identity")["identity_seed"].tolist()
    if len(seeds) < 2:
        raise SystemExit(f"{data}/index.csv: need at least 2 test identities, found {len(seeds)}")
    renderer = Renderer(resolution=meta["resolution"], supersample=settings.get("supersample", 1))
    gain = settings.get("shape_gain", 1.0)
    rng = np.random.default_rng(seed)

    def image(seed_a: int, scene: Scene) -> torch.Tensor:
        out = renderer.render(Identity.from_seed(int(seed_a), shape_gain=gain), scene)
        return torch.from_numpy(out.image).permute(2, 0, 1).float() / 255.0

    first, second, kinds = [], [], []
    for i in range(n_pairs):
        kind = KINDS[i % len(KINDS)]
        a, b = rng.choice(len(seeds), 2, replace=False)
        scene = Scene.sample(rng)
        x = image(seeds[a], scene)
        if kind == "same_identity_other_pose":
            pose = Scene.sample(rng)
            y = image(
                seeds[a], dataclasses.replace(scene, yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll)
            )
        elif kind == "other_identity_same_scene":
            y = image(seeds[b], scene)
        elif kind == "blurred":
            y = gaussian_blur(x[None], float(rng.uniform(0.5, 2.0)))[0]
        else:
            dy, dx = (int(v) for v in rng.integers(1, 4, 2) * rng.choice([-1, 1], 2))
            y = torch.roll(x, (dy, dx), (1, 2))
        first.append(x)
        second.append(y)
        kinds.append(kind)
    return torch.stack(first), torch.stack(second), kinds


@torch.inference_mode()
def csim_distances(oracle_path: Path, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """``1 - cos`` of the identity oracle's embeddings of each pair."""
    state = load_checkpoint(oracle_path)
    if state.get("method") != "synth-oracle-identity":
        raise SystemExit(f"{oracle_path}: not a synth-oracle-identity checkpoint")
    net = ConvTrunk(
        state["resolution"], state["settings"]["width"], state["settings"]["embedding_dim"]
    )
    net.load_state_dict(state["net"])
    net.eval()
    cosine = (F.normalize(net(x), dim=1) * F.normalize(net(y), dim=1)).sum(1)
    return (1.0 - cosine).double().numpy()


@torch.inference_mode()
def perceptual_distances(backbone: str, path: Path, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    loss = build_perceptual(
        {"backbone": backbone, "weights_path": str(path), "layer_weights": None}
    )
    return (
        torch.cat([loss.distances(x[i : i + 250], y[i : i + 250]) for i in range(0, len(x), 250)])
        .double()
        .numpy()
    )


def correlations(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int) -> dict:
    """Pearson and Spearman r of ``a`` and ``b`` with 95% bootstrap intervals over pairs."""
    out = {"n": len(a)}
    for name, function in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
        boot = []
        for _ in range(resamples):
            rows = rng.integers(0, len(a), len(a))
            boot.append(float(function(a[rows], b[rows])[0]))
        out[name] = round(float(function(a, b)[0]), 4)
        out[f"{name}_ci95"] = [round(float(v), 4) for v in np.nanpercentile(boot, [2.5, 97.5])]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="prepared SynthFaces dataset")
    parser.add_argument("--csim-oracle", type=Path, required=True, help="synth-oracle-identity.pt")
    parser.add_argument("--backbone", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    began = time.perf_counter()
    x, y, kinds = render_pairs(args.data, args.pairs, args.seed)
    kinds = np.array(kinds)
    csim = csim_distances(args.csim_oracle, x, y)
    backbones = [tuple(item.split("=", 1)) for item in args.backbone]
    backbones.append(("csim-oracle-features", str(args.csim_oracle)))
    scratch = Path(tempfile.mkdtemp(prefix="perceptual_independence_"))
    random_path = save_random_weights("synth-geometry", scratch / "random.pt", x.shape[-1])
    backbones.append(("random-convtrunk", str(random_path)))
    random_vgg = save_random_weights("synth-identity", scratch / "random-vgg.pt", x.shape[-1])
    backbones.append(("random-vggstack", str(random_vgg)))
    backbones.append(("pixel-l1", ""))
    result = {
        "data": str(args.data),
        "pairs": args.pairs,
        "seed": args.seed,
        "kinds": list(KINDS),
        "rows": [],
    }
    for label, path in backbones:
        if label == "pixel-l1":
            distance = (x - y).abs().flatten(1).mean(1).double().numpy()
        else:
            backbone = {
                "csim-oracle-features": "synth-oracle",
                "random-convtrunk": "synth-geometry",
                "random-vggstack": "synth-identity",
            }
            distance = perceptual_distances(backbone.get(label, label), Path(path), x, y)
        rng = np.random.default_rng(args.seed)
        row = {
            "backbone": label,
            "weights": path,
            "all": correlations(distance, csim, rng, args.bootstrap),
        }
        for kind in KINDS:
            rows = kinds == kind
            row[kind] = correlations(distance[rows], csim[rows], rng, args.bootstrap)
        result["rows"].append(row)
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(
        f"{args.pairs} pairs of {args.data} test renders; correlation with 1 - CSIM of {args.csim_oracle}"
    )
    print(
        "| backbone | all: Pearson | all: Spearman | "
        + " | ".join(f"{k}: Spearman" for k in KINDS)
        + " |"
    )
    for row in result["rows"]:
        cells = [f"{row['all']['pearson']:.3f}", f"{row['all']['spearman']:.3f}"]
        cells += [f"{row[k]['spearman']:.3f}" for k in KINDS]
        print(f"| {row['backbone']} | " + " | ".join(cells) + " |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
