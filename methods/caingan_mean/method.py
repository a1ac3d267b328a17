"""CainGAN w/o R (Ardelean & Sasu 2020, Table 2, Eq. (7)): the K embeddings are averaged.

The networks, losses and schedule are those of ``methods/caingan``; this folder's
config sets ``fusion: mean``: e_x = (1/K) sum_i e_i instead of Eq. (1). At K = 1 both
fusions give e_x = e_1, so only the training (K = 8 sources) tells it apart.
"""

from __future__ import annotations

from ..caingan.method import CainGAN


class CainGANMean(CainGAN):
    """CainGAN with the plain-mean fusion of Eq. (7); config ``fusion: mean``."""

    not_applicable_k = {
        1: "CainGAN w/o R is not applicable at K = 1: with one source the mean of Eq. (7) "
        "equals Eq. (1), so it is caingan's K = 1 row (Ardelean & Sasu 2020, Table 2)",
    }
