"""The sequence protocol: self-reenactment of a whole clip, scored frame by frame and as video.

Each test sequence (``<dataset>/sequences/``, rendered by
:mod:`bench.data.synthfaces.sequences`) is re-enacted from its own first K frames (the
sources) by every one of its frames (the drivers); the target of each output is the driver
frame itself. :mod:`.data` reads the sequences, :mod:`.synthesis` runs ``Method.transfer_k``
(the pose-transfer contract) and stores ``generated.npz``, :mod:`.scoring` writes the rows:
the paired metrics (SSIM, PSNR, L1, LPIPS), CSIM to the target and to the sources and pose
error through the synth oracle (means per sequence, bootstrap over sequences), and FVD over
the videos (``bench.metrics.fvd``; n/a without I3D weights).
"""

from bench.protocols.sequence.data import (
    PROTOCOL,
    Sequences,
    load_generated_sequences,
    load_sequences,
    save_generated_sequences,
    sequence_key,
)
from bench.protocols.sequence.scoring import score_sequences
from bench.protocols.sequence.synthesis import synthesize_sequences

__all__ = [
    "PROTOCOL",
    "Sequences",
    "load_generated_sequences",
    "load_sequences",
    "save_generated_sequences",
    "score_sequences",
    "sequence_key",
    "synthesize_sequences",
]
