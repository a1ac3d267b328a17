"""Data sources and the data contract, below every other layer (docs/DESIGN.md).

``registry`` (which datasets exist and what each can do), ``synthfaces/`` (the renderer:
generator, ``mesh``, ``raster``, ``assets/``), ``real/`` (real datasets into the same
files), ``prepare`` (SynthFaces preparation), ``index`` (the index contract), ``pairs``
(LFW ``pairs.txt`` read, write and generation), ``dataset``
(in-memory splits) and ``batch`` (what a method is handed). Nothing here imports
``bench.methods``, ``bench.train`` or ``bench.cli``.
"""
