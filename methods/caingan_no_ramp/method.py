"""CainGAN w/o I (Ardelean & Sasu 2020, Table 2): lambda_I fixed, not ramped.

The networks, losses and schedule are those of ``methods/caingan``; this folder's
config sets ``ramp_epochs: 0``, so the identity discriminator's adversarial and
feature-matching terms weigh lambda_I from the first step.
"""

from __future__ import annotations

from ..caingan.method import CainGAN


class CainGANNoRamp(CainGAN):
    """CainGAN with a fixed identity-discriminator weight; config ``ramp_epochs: 0``."""
