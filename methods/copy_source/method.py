"""Reference row: return the first source image (perfect identity, wrong pose)."""

from torch import Tensor

from bench.methods.api import Driver, Method


class CopySource(Method):
    """Bounds identity similarity from above and pose error from below for a method that ignores the driver."""

    needs = frozenset()
    provides = frozenset({"transfer"})
    trainable = False

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        return sources[:, 0]
