"""Linear pose and identity probes on codes whose content is known by construction."""

import numpy as np
import pytest

from bench.metrics.probes import identity_probe, pose_probe, split_within_identities

N_IDENTITIES = 40
PER_IDENTITY = 25


def pose_dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Identity ids [N] and (yaw, pitch, roll) [N,3] in degrees, sampled independently."""
    rng = np.random.default_rng(seed)
    identities = np.repeat(np.arange(N_IDENTITIES), PER_IDENTITY)
    n = identities.size
    angles = np.stack(
        [rng.uniform(-60, 60, n), rng.uniform(-30, 30, n), rng.uniform(-20, 20, n)], axis=1
    )
    return identities, angles


def test_pose_probe_recovers_angles_linearly_contained_in_the_code() -> None:
    identities, angles = pose_dataset()
    rng = np.random.default_rng(1)
    codes = angles @ rng.normal(size=(3, 8)) + rng.normal(0.0, 0.5, (angles.shape[0], 8))
    result = pose_probe(codes, angles, identities)
    for name in ("yaw", "pitch", "roll", "mean"):
        assert result[f"r2_{name}"] > 0.95, name
    assert result["mae_mean"] < 2.0
    assert result["n_train"] + result["n_test"] == angles.shape[0]
    assert result["n_test"] == PER_IDENTITY * round(0.3 * N_IDENTITIES)


def test_pose_probe_gives_zero_r2_from_noise() -> None:
    identities, angles = pose_dataset()
    codes = np.random.default_rng(2).normal(size=(angles.shape[0], 16))
    result = pose_probe(codes, angles, identities)
    for name in ("yaw", "pitch", "roll", "mean"):
        assert result[f"r2_{name}"] < 0.1, name
    # no better than predicting the mean: uniform(-60, 60) has MAE 30 about its mean
    assert result["mae_yaw"] > 25.0


def test_pose_probe_holds_out_whole_identities() -> None:
    # each identity has its own typical pose and a one-hot code: only memorisation can help,
    # which a within-identity split would reward (R² near 1) and a disjoint split cannot
    rng = np.random.default_rng(3)
    identities = np.repeat(np.arange(N_IDENTITIES), PER_IDENTITY)
    typical_pose = rng.uniform(-40, 40, (N_IDENTITIES, 3))
    angles = typical_pose[identities] + rng.normal(0.0, 1.0, (identities.size, 3))
    codes = np.eye(N_IDENTITIES)[identities]
    assert pose_probe(codes, angles, identities)["r2_mean"] < 0.1


def test_pose_probe_is_deterministic_given_seed() -> None:
    identities, angles = pose_dataset()
    codes = angles[:, :2] + np.random.default_rng(4).normal(0.0, 5.0, (angles.shape[0], 2))
    assert pose_probe(codes, angles, identities, seed=5) == pose_probe(
        codes, angles, identities, seed=5
    )
    assert pose_probe(codes, angles, identities, seed=5) != pose_probe(
        codes, angles, identities, seed=6
    )


def test_pose_probe_reports_nan_r2_for_a_constant_angle() -> None:
    identities, angles = pose_dataset()
    angles[:, 2] = 0.0
    result = pose_probe(angles[:, :2], angles, identities)
    assert np.isnan(result["r2_roll"])
    assert result["r2_mean"] == pytest.approx((result["r2_yaw"] + result["r2_pitch"]) / 2)


def test_pose_probe_rejects_bad_shapes() -> None:
    identities, angles = pose_dataset()
    codes = np.zeros((angles.shape[0], 4))
    with pytest.raises(ValueError, match=r"angles of shape \[N,3\]"):
        pose_probe(codes, angles[:, :2], identities)
    with pytest.raises(ValueError, match=r"angles of shape \[N,3\]"):
        pose_probe(codes[:-1], angles, identities[:-1])
    with pytest.raises(ValueError, match="groups must be a 1-D array"):
        pose_probe(codes, angles, identities[:-1])
    with pytest.raises(ValueError, match="codes"):
        pose_probe(codes[:, 0], angles, identities)
    with pytest.raises(ValueError, match="at least 2 distinct identities"):
        pose_probe(codes, angles, np.zeros_like(identities))
    with pytest.raises(ValueError, match="test_fraction"):
        pose_probe(codes, angles, identities, test_fraction=1.0)


def identity_dataset(n_identities: int = 20, per_identity: int = 20) -> np.ndarray:
    return np.repeat(np.arange(n_identities), per_identity)


def test_identity_probe_is_perfect_for_one_hot_identity_codes() -> None:
    identities = identity_dataset()
    rng = np.random.default_rng(5)
    codes = np.eye(20)[identities] + rng.normal(0.0, 0.05, (identities.size, 20))
    result = identity_probe(codes, identities)
    assert result["accuracy"] == pytest.approx(1.0)
    assert result["chance"] == pytest.approx(1 / 20)
    assert result["n_classes"] == 20
    assert result["n_test"] == 20 * 6 and result["n_train"] == 20 * 14


def test_identity_probe_is_near_chance_for_noise_codes() -> None:
    identities = identity_dataset()
    codes = np.random.default_rng(6).normal(size=(identities.size, 8))
    result = identity_probe(codes, identities)
    assert result["accuracy"] < result["chance"] + 0.07


def test_identity_probe_drops_and_counts_single_image_identities() -> None:
    identities = np.concatenate([identity_dataset(5, 10), [100, 101, 102]])
    codes = np.eye(103)[identities][:, np.r_[0:5, 100:103]]
    result = identity_probe(codes, identities.astype(str))
    assert result["n_classes"] == 5
    assert result["n_dropped_identities"] == 3
    assert result["n_dropped_images"] == 3
    assert result["n_train"] + result["n_test"] == 50


def test_split_within_identities_puts_every_identity_in_both_splits() -> None:
    identities = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    train, test = split_within_identities(identities, test_fraction=0.3, seed=0)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).size == identities.size
    for identity in (0, 1, 2):
        assert identity in identities[train] and identity in identities[test]
    assert np.sum(identities[test] == 2) == 3
    with pytest.raises(ValueError, match=">= 2"):
        split_within_identities(np.array([0, 0, 1]), test_fraction=0.3, seed=0)


def test_identity_probe_rejects_bad_shapes() -> None:
    identities = identity_dataset()
    codes = np.zeros((identities.size, 4))
    with pytest.raises(ValueError, match="identities must be a 1-D array"):
        identity_probe(codes, identities[:-1])
    with pytest.raises(ValueError, match="identities must be a 1-D array"):
        identity_probe(codes, identities[:, None])
    with pytest.raises(ValueError, match="codes"):
        identity_probe(codes[None], identities)
    with pytest.raises(ValueError, match="at least 2 identities"):
        identity_probe(codes[:20], identities[:20])


def test_probe_rows_leave_out_images_without_a_pose_label():
    """Real profiles flagged by the 68-point fit have NaN poses; the pose probe reads the
    labelled rows only (before, NaN reached the regression and the job failed)."""
    from types import SimpleNamespace

    import pandas as pd

    from bench.protocols.representation import probe_rows

    rng = np.random.default_rng(0)
    n = 120
    poses = rng.uniform(-60, 60, size=(n, 3))
    identities = np.repeat(np.arange(12), 10)
    codes = {"identity": np.eye(12)[identities] + 0.01 * rng.normal(size=(n, 12))}
    unlabelled = poses.copy()
    unlabelled[::7] = np.nan
    index = pd.DataFrame(
        {"identity": identities, "yaw": unlabelled[:, 0], "pitch": unlabelled[:, 1],
         "roll": unlabelled[:, 2]}
    )  # fmt: skip
    rows = probe_rows(codes, SimpleNamespace(index=index, poses=unlabelled))
    full = probe_rows(codes, SimpleNamespace(index=index.fillna(0.0), poses=poses))
    n_probe = {r["metric"]: r["n"] for r in rows}
    n_full = {r["metric"]: r["n"] for r in full}
    assert all(np.isfinite(r["value"]) for r in rows)
    assert all(n_probe[m] < n_full[m] for m in n_probe)
