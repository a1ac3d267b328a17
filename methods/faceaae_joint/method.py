"""faceaae_joint: Browatzki & Wallraven (ICCVW 2019) with the joint fine-tuning of Sec. 3.8.

The same networks, losses and first two stages as ``faceaae`` (adversarial autoencoder,
then Phi / Phi^-1 with E and G frozen), followed by training everything jointly on
L_AE + L_Phi. Only the schedule in ``config.yaml`` differs; the code is faceaae's.
"""

from __future__ import annotations

from ..faceaae.method import FaceAAE


class FaceAAEJoint(FaceAAE):
    """FaceAAE whose config ends with a ``joint`` stage (``phi_until`` < 1)."""
