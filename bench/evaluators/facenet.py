"""``facenet-vggface2``: facenet-pytorch's InceptionResnetV1 trained on VGGFace2, after MTCNN alignment.

The recognizer's weights are not in the package: facenet-pytorch downloads
``20180402-114759-vggface2.pt`` into ``$TORCH_HOME/checkpoints`` on first use. The harness never
downloads. It loads the file from an explicit ``weights_path`` or from that cache location, and
otherwise raises :class:`EvaluatorUnavailable` with the path and the URL, which the protocols turn
into ``n/a: <reason>`` cells. MTCNN's weights ship inside facenet-pytorch, so detection and
alignment always work offline.

Alignment is the one the weights were trained with: MTCNN's highest-probability face, cropped
square with ``margin`` pixels and resized to 160x160, standardised as (x - 127.5) / 128. A face
MTCNN does not find is a NaN row with ``found=False``: counted by the metrics, never dropped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from bench.errors import EvaluatorUnavailable
from bench.evaluators.dlib_face import check_images
from bench.evaluators.inception import file_sha256

log = logging.getLogger(__name__)

NAME = "facenet-vggface2"
DETECTOR_NAME = "mtcnn"
EMBEDDING_DIM = 512
WEIGHTS_FILE = "20180402-114759-vggface2.pt"
WEIGHTS_URL = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/" + WEIGHTS_FILE
VGGFACE2_CLASSES = 8631
IMAGE_SIZE = 160


def cache_weights_path() -> Path:
    """Where facenet-pytorch caches the VGGFace2 weights: ``$TORCH_HOME/checkpoints/<file>``."""
    torch_home = os.getenv("TORCH_HOME") or os.path.join(
        os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"
    )
    return Path(os.path.expanduser(torch_home)) / "checkpoints" / WEIGHTS_FILE


def find_facenet_weights(weights_path: str | Path | None = None) -> Path:
    """The weights file to load: ``weights_path`` if given, else the cache; a clear reason if absent."""
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise EvaluatorUnavailable(f"{NAME}: weights_path {path} does not exist")
        return path
    path = cache_weights_path()
    if not path.is_file():
        raise EvaluatorUnavailable(
            f"{NAME}: no weights at {path} and no weights_path configured; download "
            f"{WEIGHTS_URL} to that path (or set weights_path)"
        )
    return path


class FacenetFace:
    """MTCNN alignment + InceptionResnetV1 (VGGFace2): 512-d embeddings, misses as NaN rows."""

    name = NAME
    detector_name = DETECTOR_NAME

    def __init__(
        self,
        weights_path: str | Path | None = None,
        device: str | torch.device = "cpu",
        margin: int = 0,
        batch_size: int = 64,
    ) -> None:
        from facenet_pytorch import MTCNN, InceptionResnetV1

        path = find_facenet_weights(weights_path)
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "last_linear.weight" not in state:
            raise EvaluatorUnavailable(
                f"{NAME}: {path} is not an InceptionResnetV1 state_dict (no 'last_linear.weight')"
            )
        model = InceptionResnetV1(pretrained=None, classify=False)
        if "logits.weight" in state:  # the released file carries the VGGFace2 classifier too
            model.logits = torch.nn.Linear(EMBEDDING_DIM, state["logits.weight"].shape[0])
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise EvaluatorUnavailable(
                f"{NAME}: {path} does not fit InceptionResnetV1: {error}"
            ) from error
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.mtcnn = MTCNN(
            image_size=IMAGE_SIZE, margin=margin, post_process=True, device=self.device
        )
        self.batch_size = int(batch_size)
        self.weights_path = path
        self.weights_sha256 = file_sha256(path)
        log.info("%s: weights %s (sha256 %s)", NAME, path, self.weights_sha256[:12])

    def align(self, images: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Aligned standardised crops ``[N, 3, 160, 160]`` (zeros where no face) and ``found``."""
        images = check_images(images)
        crops = torch.zeros(len(images), 3, IMAGE_SIZE, IMAGE_SIZE)
        found = np.zeros(len(images), dtype=bool)
        # One image per call: facenet-pytorch 2.5.3's batched select_boxes fails on a batch in
        # which some images have no face (ragged numpy array).
        for i, image in enumerate(images):
            with torch.inference_mode():
                face = self.mtcnn(image)
            if face is not None:
                crops[i] = face
                found[i] = True
        return crops, found

    def embed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """512-d embeddings ``[N, 512]`` (NaN rows where MTCNN found no face) and ``found``."""
        crops, found = self.align(images)
        embeddings = np.full((len(crops), EMBEDDING_DIM), np.nan)
        index = np.flatnonzero(found)
        with torch.inference_mode():
            for start in range(0, len(index), self.batch_size):
                rows = index[start : start + self.batch_size]
                out = self.model(crops[rows].to(self.device))
                embeddings[rows] = out.cpu().double().numpy()
        missing = int((~found).sum())
        if missing:
            log.info(
                "%s: no face found in %d of %d images (NaN rows, counted)",
                NAME,
                missing,
                len(found),
            )
        return embeddings, found
