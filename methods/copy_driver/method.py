"""Reference row: return the driver image (perfect pose, wrong identity in cross-identity transfer)."""

from torch import Tensor

from bench.methods.api import Driver, Method


class CopyDriver(Method):
    """What a method scores if it ignores the sources and copies the driver."""

    needs = frozenset()
    provides = frozenset({"transfer"})
    trainable = False

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        return driver.image
