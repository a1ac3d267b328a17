"""The method contract (``api``) and the discovery of ``methods/*/`` folders (``registry``)."""

from bench.methods.api import (
    CAPABILITIES,
    SUPERVISION,
    DatasetInfo,
    Driver,
    FaceBatch,
    Method,
    Sampling,
    frozen,
    k_shot_sampling,
)
from bench.methods.registry import MethodSpec, get_method, method_registry

__all__ = [
    "CAPABILITIES",
    "SUPERVISION",
    "DatasetInfo",
    "Driver",
    "FaceBatch",
    "Method",
    "MethodSpec",
    "Sampling",
    "frozen",
    "get_method",
    "k_shot_sampling",
    "method_registry",
]
