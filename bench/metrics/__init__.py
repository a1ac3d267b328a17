"""Pure metric functions: SSIM, CSIM (cosine similarity), pose error and LFW-style verification.

Modules: ``ssim`` (image similarity, skimage-compatible), ``similarity`` (row-wise cosine
similarity of embeddings), ``pose`` (angular pose error) and ``verification`` (10-fold
threshold protocol, AUC, EER, TAR@FAR; its pairs files are read and written by
:mod:`bench.data.pairs`).
Import from the submodules; this package imports nothing heavy on its own.
"""
