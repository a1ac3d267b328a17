"""Exceptions the harness raises for bad input: each message names the file, line, key or step."""


class BenchError(Exception):
    """Base class of every error the harness reports to the user (printed without a traceback)."""


class ConfigError(BenchError):
    """An unknown or invalid configuration key or value."""


class DataError(BenchError):
    """A prepared dataset is malformed: corrupt image, missing column, bad pairs line."""


class MethodLoadError(BenchError):
    """A method folder under ``methods/`` cannot be imported or does not follow the contract."""


class CheckpointError(BenchError):
    """A checkpoint is unreadable or belongs to another method or configuration."""


class NonFiniteLossError(BenchError):
    """Training produced a NaN or infinite loss."""


class EvaluatorUnavailable(BenchError):
    """A pretrained evaluator's weights or package are missing (weights are never downloaded).

    Scores from such an evaluator are reported as ``n/a`` with this message as the reason.
    """
