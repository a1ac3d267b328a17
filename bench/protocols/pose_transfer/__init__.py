"""Protocol 1, pose transfer: fixed test tuples, synthesis through ``Method.transfer``, scores.

One module per job: :mod:`.tuples` (draw, write, read and resolve the tuples),
:mod:`.synthesis` (run the method, ``generated.npz``, the sample grid), :mod:`.scoring`
(the score rows), :mod:`.embeddings` (the cached oracle embeddings of real images).
FD/KID/FID, shared with protocol 4, live in :mod:`bench.protocols.distribution`.
"""

from bench.protocols.distribution import distribution_rows, load_inception
from bench.protocols.pose_transfer.embeddings import reference_embeddings
from bench.protocols.pose_transfer.scoring import (
    FOLLOW_ANGLES,
    following_reference,
    following_rows,
    not_applicable_rows,
    score_pose_transfer,
)
from bench.protocols.pose_transfer.synthesis import (
    load_generated,
    make_driver,
    save_generated,
    save_sample_grid,
    synthesize,
)
from bench.protocols.pose_transfer.tuples import (
    KINDS,
    PROTOCOL,
    TupleImages,
    make_tuples,
    read_tuples,
    resolve_tuples,
    tuples_path,
    write_tuples,
)
from bench.score import bootstrap_interval

__all__ = [
    "FOLLOW_ANGLES",
    "KINDS",
    "PROTOCOL",
    "TupleImages",
    "bootstrap_interval",
    "distribution_rows",
    "following_reference",
    "following_rows",
    "load_generated",
    "load_inception",
    "make_driver",
    "make_tuples",
    "not_applicable_rows",
    "read_tuples",
    "reference_embeddings",
    "resolve_tuples",
    "save_generated",
    "save_sample_grid",
    "score_pose_transfer",
    "synthesize",
    "tuples_path",
    "write_tuples",
]
