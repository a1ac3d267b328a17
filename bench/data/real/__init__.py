"""Real face datasets (LFW, CelebA, VoxCeleb2, Multi-PIE, any face folder) into the data contract.

Each dataset has a loader that lists its images from the on-disk layout
(:mod:`~bench.data.real.lfw`, ``celeba``, ``voxceleb2``, ``multipie``, ``folder``);
:mod:`~bench.data.real.prepare` aligns them (:mod:`~bench.data.real.align`) into the same
``index.csv``, ``landmarks.npz``, ``pairs.txt`` and ``meta.json`` as SynthFaces.
"""
