"""Reference row: return the exact target (identity A rendered in the driver's pose), the ceiling."""

from torch import Tensor

from bench.errors import DataError
from bench.methods.api import Driver, Method


class GroundTruth(Method):
    """The ceiling of every pose-transfer score; exists only where the dataset has exact targets."""

    needs = frozenset({"target"})
    provides = frozenset({"transfer"})
    trainable = False

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        if driver.target is None:
            raise DataError("ground_truth needs exact targets, which this dataset does not provide")
        return driver.target
