"""Angular error between predicted and target head poses (yaw, pitch, roll in degrees)."""

import numpy as np

POSE_ANGLE_NAMES = ("yaw", "pitch", "roll")


def angular_difference_degrees(angles_a: np.ndarray, angles_b: np.ndarray) -> np.ndarray:
    """Absolute difference of angles in degrees, wrapped into [0, 180] (179 vs -179 gives 2)."""
    wrapped = np.mod(np.asarray(angles_a, float) - np.asarray(angles_b, float) + 180.0, 360.0)
    return np.abs(wrapped - 180.0)


def pose_error_degrees(predicted: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample absolute yaw, pitch and roll errors [N] in degrees, and their mean ("mean").

    Each angle difference is wrapped into [0, 180]; "mean" is the mean of the three per sample.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    for argument, angles in (("predicted", predicted), ("target", target)):
        if angles.ndim != 2 or angles.shape[1] != 3:
            raise ValueError(
                f"pose_error_degrees expects {argument} of shape [N,3] (yaw, pitch, roll in "
                f"degrees), got {angles.shape}."
            )
    if predicted.shape != target.shape:
        raise ValueError(
            f"pose_error_degrees needs predicted and target of the same shape, got "
            f"{predicted.shape} and {target.shape}; pair each prediction with its target pose."
        )
    errors = angular_difference_degrees(predicted, target)
    result = {name: errors[:, index] for index, name in enumerate(POSE_ANGLE_NAMES)}
    result["mean"] = errors.mean(axis=1)
    return result
