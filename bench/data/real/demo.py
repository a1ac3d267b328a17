"""A ``folder`` dataset of real face photos that ship inside installed packages.

No dataset can be downloaded here, so the end-to-end demonstration uses the real faces
the environment already has: scikit-image's ``astronaut`` (Eileen Collins), matplotlib's
``grace_hopper`` and the 100 face crops of scikit-image's ``lfw_subset`` (25x25 LFW
faces, each taken as its own identity). Each photo becomes an identity folder with
``clips`` clips of ``per_clip`` JPEG views (a seeded small rotation, scale, shift, mirror
and brightness change), in the layout ``<identity>/<clip>/<image>.jpg``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance


def packaged_faces(n_lfw: int) -> dict[str, np.ndarray]:
    """Named RGB uint8 face photos: astronaut, grace_hopper and the first ``n_lfw`` LFW crops."""
    import matplotlib.cbook
    from skimage import data

    faces = {"astronaut": data.astronaut()}
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
        faces["grace_hopper"] = np.asarray(image.convert("RGB"))
    subset = data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    for i, face in enumerate(subset[:n_lfw]):
        small = Image.fromarray((face * 255).round().astype(np.uint8)).convert("RGB")
        large = np.asarray(small.resize((100, 100), Image.Resampling.BICUBIC))
        faces[f"lfw_subset_{i:03d}"] = np.pad(large, ((30, 30), (30, 30), (0, 0)), mode="edge")
    return faces


def view(photo: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One augmented view of a photo: rotation, scale, shift, mirror, brightness."""
    image = Image.fromarray(photo)
    width, height = image.size
    angle, scale = rng.uniform(-8, 8), rng.uniform(0.92, 1.08)
    shift = rng.uniform(-0.04, 0.04, 2) * (width, height)
    border = tuple(int(v) for v in np.concatenate([photo[0], photo[-1]]).mean(0))
    image = image.rotate(angle, Image.Resampling.BICUBIC, translate=tuple(shift), fillcolor=border)
    size = (int(width * scale), int(height * scale))
    image = image.resize(size, Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))


def write_demo_folder(
    out: Path, n_lfw: int = 30, clips: int = 2, per_clip: int = 4, seed: int = 0
) -> Path:
    """Write the demo folder dataset to ``out`` (JPEG views) and return ``out``."""
    out = Path(out)
    rng = np.random.default_rng(seed)
    for name, photo in packaged_faces(n_lfw).items():
        for clip in range(clips):
            folder = out / name / f"clip{clip}"
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(per_clip):
                view(photo, rng).save(folder / f"{number:03d}.jpg", quality=92)
    return out


def synthfaces_views(
    identity: int, yaws: list[float], resolution: int = 128, seed: int = 0
) -> list[np.ndarray]:
    """SynthFaces renders of one identity at the given yaws (near-frontal pitch, random light)."""
    import dataclasses

    from bench.data.synthfaces import Identity, Renderer, sample_clip

    renderer = Renderer(resolution=resolution, supersample=1)
    person = Identity.from_seed(int(np.random.SeedSequence([seed, identity]).generate_state(1)[0]))
    scenes = sample_clip(np.random.default_rng([seed, identity]), len(yaws), key_every=2)
    return [
        renderer.render(person, dataclasses.replace(s, yaw=y, pitch=0.0, roll=0.0)).image
        for s, y in zip(scenes, yaws, strict=True)
    ]
