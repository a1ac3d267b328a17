"""Protocol 1's synthesis: run ``Method.transfer_k`` on every tuple, store the images
(``generated.npz``, one array per ``k<K>_<kind>`` key) and a sample grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from bench.data.dataset import FaceData, to_uint8_images
from bench.errors import DataError
from bench.methods.api import Driver, Method
from bench.protocols.pose_transfer.tuples import KINDS, resolve_tuples
from bench.protocols.results import load_arrays, save_arrays
from bench.report.grids import save_labelled_grid
from bench.score import kind_key, parse_kind_key


def make_driver(
    test: FaceData, rows: np.ndarray, needs: frozenset[str], target: torch.Tensor | None
) -> Driver:
    """The driver of a batch, holding only the labels the method declared."""
    batch = test.batch(rows[:, None], needs)

    def first(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[:, 0]

    return Driver(
        image=batch.images[:, 0],
        pose=first(batch.pose),
        pose_bin=first(batch.pose_bin),
        landmarks=first(batch.landmarks),
        landmark_image=first(batch.landmark_images),
        expression=first(batch.expression),
        target=target if "target" in needs else None,
    )


def synthesize(
    method: Method, test: FaceData, tuples: pd.DataFrame, k_values: list[int], batch_size: int
) -> dict[str, np.ndarray]:
    """Run ``method.transfer_k`` on every tuple and kind, for every K at once:
    ``{"k1_cross": uint8 [N,H,W,3], ...}``."""
    resolved = resolve_tuples(test, tuples)
    outputs: dict[str, np.ndarray] = {}
    device = method.device
    ks = [k for k in k_values if k not in method.not_applicable_k]
    if not ks:
        return outputs
    kinds = list(KINDS)
    if "target" in method.needs and resolved.targets["cross"] is None:
        kinds = ["self"]
    with (
        torch.inference_mode(),
        tqdm(
            total=len(kinds) * len(ks) * len(tuples),
            desc=f"synthesize {method.name}",
            unit="img",
            mininterval=2.0,
        ) as bar,
    ):
        for kind in kinds:
            chunks: dict[int, list[np.ndarray]] = {k: [] for k in ks}
            for start in range(0, len(tuples), batch_size):
                stop = min(start + batch_size, len(tuples))
                target = resolved.targets[kind]
                driver = make_driver(
                    test,
                    resolved.drivers[kind][start:stop],
                    method.needs,
                    None if target is None else target[start:stop],
                )
                sources = resolved.sources[start:stop, : max(ks)]
                generated = method.transfer_k(sources.to(device), driver.to(device), ks)
                if sorted(generated) != sorted(ks):
                    raise DataError(
                        f"{method.name}.transfer_k returned K {sorted(generated)}, asked {ks}"
                    )
                for k in ks:
                    if generated[k].shape != driver.image.shape:
                        raise DataError(
                            f"{method.name}.transfer returned shape {list(generated[k].shape)}, "
                            f"expected {list(driver.image.shape)}"
                        )
                    chunks[k].append(to_uint8_images(generated[k].float().cpu()))
                bar.update((stop - start) * len(ks))
            for k in ks:
                outputs[kind_key(k, kind)] = np.concatenate(chunks[k])
    return outputs


def save_generated(
    path: Path, outputs: dict[str, np.ndarray], tuples: pd.DataFrame, k_values: list[int]
) -> None:
    """``generated.npz``: the images per ``k<K>_<kind>``, the tuple ids and the K values
    protocol 1 asked for (a K the method is not applicable at has no images)."""
    save_arrays(path, tuple=tuples["tuple"].to_numpy(), requested_k=np.asarray(k_values), **outputs)


def load_generated(path: Path) -> tuple[dict[str, np.ndarray], list[int]]:
    """(images per ``k<K>_<kind>``, the K values protocol 1 asked for)."""
    arrays = load_arrays(path, "synthesize")
    arrays.pop("tuple", None)
    for key in [key for key in arrays if key.startswith("tuple_")]:
        arrays.pop(key)  # an import's subset of tuples per key (bench.external.output_positions)
    requested = arrays.pop("requested_k", None)
    if requested is None:  # written before requested_k existed: every K has images
        return arrays, sorted({parse_kind_key(key)[0] for key in arrays})
    return arrays, [int(k) for k in requested]


def save_sample_grid(
    path: Path, test: FaceData, tuples: pd.DataFrame, outputs: dict[str, np.ndarray], rows: int = 6
) -> None:
    """A PNG per method: for each kind, columns source | driver | generated (K=1) | target."""
    resolved = resolve_tuples(test, tuples.iloc[:rows])
    k = min(parse_kind_key(key)[0] for key in outputs)
    panels = []
    for kind in KINDS:
        key = kind_key(k, kind)
        if key not in outputs:
            continue
        target = resolved.targets[kind]
        columns = [
            to_uint8_images(resolved.sources[:, 0]),
            test.images[resolved.drivers[kind]],
            outputs[key][:rows],
            to_uint8_images(target) if target is not None else np.zeros_like(outputs[key][:rows]),
        ]
        panels.append(np.concatenate([np.concatenate(list(c), axis=0) for c in columns], axis=1))
    save_labelled_grid(
        path,
        panels,
        [c for c in KINDS if kind_key(k, c) in outputs],
        k,
        list(tuples["tuple"].iloc[:rows]),
    )
