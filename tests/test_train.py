"""The generic training loop: resume equality, atomic checkpoints, clear errors."""

from __future__ import annotations

import pytest
import torch
from conftest import assert_same_weights, final_weights, train_until_killed

from bench.errors import CheckpointError, NonFiniteLossError
from bench.methods.registry import get_method
from bench.train import TrainSettings, load_checkpoint, load_trained, train

TINY = {"width": 4, "code_dim": 8, "steps": 12, "batch_size": 4}


def pose_ae_config(**extra):
    return get_method("pose_ae").resolved_config("tiny", {**TINY, **extra})


def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_run(toy_data, tmp_path):
    spec, config = get_method("pose_ae"), pose_ae_config()
    settings = TrainSettings(device="cpu", checkpoint_every=5)
    train(spec, config, toy_data, tmp_path / "straight", seed=3, settings=settings)
    run = tmp_path / "killed"
    train_until_killed(spec, config, toy_data, run, kill_at=7, seed=3, settings=settings)
    assert load_checkpoint(tmp_path / "killed/checkpoints/last.pt")["step"] == 5
    assert not (tmp_path / "killed/model.pt").exists()
    train(spec, config, toy_data, tmp_path / "killed", seed=3, settings=settings)

    assert_same_weights(final_weights(tmp_path / "straight"), final_weights(tmp_path / "killed"))
    log_lines = (tmp_path / "killed/train_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log_lines[1:]] == [str(s) for s in range(1, 13)]


def test_different_seeds_give_different_weights(toy_data, tmp_path):
    spec, config = get_method("pose_ae"), pose_ae_config(steps=3)
    settings = TrainSettings(device="cpu", checkpoint_every=3)
    train(spec, config, toy_data, tmp_path / "a", seed=0, settings=settings)
    train(spec, config, toy_data, tmp_path / "b", seed=1, settings=settings)
    a, b = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_training_writes_loss_csv_sample_grids_and_summary(toy_data, tmp_path):
    train(
        get_method("pose_ae"),
        pose_ae_config(steps=4),
        toy_data,
        tmp_path,
        seed=0,
        settings=TrainSettings(device="cpu", checkpoint_every=2),
    )
    header, *rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert header == "step,l1" and len(rows) == 4
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_000002.png",
        "step_000004.png",
    ]
    assert (tmp_path / "samples.png").stat().st_size > 0
    assert '"steps": 4' in (tmp_path / "train.json").read_text()


def test_nan_loss_names_the_step_and_keeps_the_last_checkpoint(toy_data, tmp_path, monkeypatch):
    spec, config = get_method("pose_ae"), pose_ae_config(steps=10)
    real_step = spec.cls.training_step

    def diverging_step(self, batch, step):
        losses = real_step(self, batch, step)
        return {"l1": float("nan")} if step == 4 else losses

    monkeypatch.setattr(spec.cls, "training_step", diverging_step)
    with pytest.raises(
        NonFiniteLossError, match=r"step 5 of pose_ae seed 0: l1=nan; the last good checkpoint"
    ):
        train(
            spec,
            config,
            toy_data,
            tmp_path,
            seed=0,
            settings=TrainSettings(device="cpu", checkpoint_every=2),
        )
    assert load_checkpoint(tmp_path / "checkpoints/last.pt")["step"] == 4


def test_checkpoint_of_another_method_is_refused(toy_data, tmp_path):
    train(
        get_method("pose_ae"),
        pose_ae_config(steps=2),
        toy_data,
        tmp_path,
        seed=0,
        settings=TrainSettings(device="cpu", checkpoint_every=1),
    )
    with pytest.raises(CheckpointError, match="belongs to method 'pose_ae', not 'copy_source'"):
        load_trained(tmp_path / "model.pt", get_method("copy_source"))


def test_checkpoint_of_another_configuration_is_moved_aside_not_resumed(toy_data, tmp_path):
    spec = get_method("pose_ae")
    settings = TrainSettings(device="cpu", checkpoint_every=1)
    train(spec, pose_ae_config(steps=2), toy_data, tmp_path, seed=0, settings=settings)
    old = load_checkpoint(tmp_path / "checkpoints/last.pt")
    train(spec, pose_ae_config(steps=2, lr=1e-3), toy_data, tmp_path / "fresh", seed=0, settings=settings)  # fmt: skip
    train(spec, pose_ae_config(steps=2, lr=1e-3), toy_data, tmp_path, seed=0, settings=settings)
    stale = tmp_path / f"checkpoints/stale-{old['fingerprint']}.pt"
    assert stale.exists() and load_checkpoint(stale)["step"] == 2  # kept, not deleted
    new, fresh = final_weights(tmp_path), final_weights(tmp_path / "fresh")
    assert all(torch.equal(new[k], fresh[k]) for k in new)  # trained from scratch


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_sampling_for_config_sets_the_frames_of_every_batch(tmp_path):
    from conftest import make_face_data

    data = make_face_data(n_identities=6, per_identity=8, resolution=32)
    spec = get_method("drgan_multi")
    seen = []
    original = spec.cls.training_step

    def record(self, batch, step):
        seen.append(tuple(batch.images.shape[:2]))
        assert (batch.identity == batch.identity[:, :1]).all()  # n images of one person
        return original(self, batch, step)

    config = spec.resolved_config(
        "smoke", {"images_per_identity": 3, "steps": 2, "sampling_group": "identity"}
    )
    spec.cls.training_step = record
    try:
        train(spec, config, data, tmp_path, seed=0, settings=TrainSettings(device="cpu"))
    finally:
        spec.cls.training_step = original
    assert seen == [(config["batch_size"], 3)] * 2
