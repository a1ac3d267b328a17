"""CainGAN w/o T (Ardelean & Sasu 2020, Table 2): the embedder sees only x_i and L(x_i).

The networks, losses and schedule are those of ``methods/caingan``; this folder's
config sets ``targeted: false``, so the embedder's input has 6 channels instead of 9.
"""

from __future__ import annotations

from ..caingan.method import CainGAN


class CainGANNoTarget(CainGAN):
    """CainGAN with a non-targeted embedder E(x_i, L(x_i)); config ``targeted: false``."""
