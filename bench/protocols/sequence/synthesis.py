"""Re-enact every test sequence with a method, through the pose-transfer contract.

Sources: the first K frames of the sequence (K = 1: its first frame); drivers: every frame
in order, each with the labels the method declared (``make_driver``, as protocol 1), and for
the untrained ``ground_truth`` row its target, the driver frame itself.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from bench.data.dataset import to_float_images, to_uint8_images
from bench.errors import DataError
from bench.methods.api import Method
from bench.protocols.pose_transfer.synthesis import make_driver
from bench.protocols.sequence.data import Sequences, sequence_key


def synthesize_sequences(
    method: Method, sequences: Sequences, k_values: list[int], batch_size: int
) -> dict[str, np.ndarray]:
    """``{"k<K>": uint8 [S, T, H, W, 3]}`` for every K the method is applicable at."""
    ks = [k for k in k_values if k not in method.not_applicable_k]
    if ks and max(ks) > sequences.length:
        raise DataError(f"K = {max(ks)} sources: the sequences have {sequences.length} frames")
    if not ks:
        return {}
    frames = sequences.frames
    n_sequences, length = sequences.rows.shape
    drivers = sequences.rows.reshape(-1)
    sources = np.repeat(sequences.rows[:, : max(ks)], length, axis=0)  # [S*T, K_max]
    chunks: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    with (
        torch.inference_mode(),
        tqdm(total=len(drivers), desc=f"sequences {method.name}", mininterval=2.0) as bar,
    ):
        for start in range(0, len(drivers), batch_size):
            rows = drivers[start : start + batch_size]
            target = to_float_images(frames.images[rows])
            driver = make_driver(frames, rows, method.needs, target)
            source_images = frames.batch(sources[start : start + batch_size], frozenset()).images
            generated = method.transfer_k(
                source_images.to(method.device), driver.to(method.device), ks
            )
            for k in ks:
                if k not in generated or generated[k].shape != driver.image.shape:
                    raise DataError(
                        f"{method.name}.transfer_k gave no [B,3,H,W] images for K = {k}"
                    )
                chunks[k].append(to_uint8_images(generated[k].float().cpu()))
            bar.update(len(rows))
    return {
        sequence_key(k): np.concatenate(chunks[k]).reshape(
            n_sequences, length, *chunks[k][0].shape[1:]
        )
        for k in ks
    }
