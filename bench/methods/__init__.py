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
    "method_registry",
]
