"""A stopped training goes on from its checkpoint and ends with the same model.

Needs torch (the 'train' extra); skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aircraftml.vision.train import FeatureSet, TrainConfig, fit_back

torch = pytest.importorskip("torch", reason="training needs torch (the 'train' extra)")


class _Stop(Exception):
    pass


def _tiny_back() -> torch.nn.Module:
    torch.manual_seed(1)

    class Back(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.2))
            self.fc = torch.nn.Linear(3 * 4 * 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.body(x))

    return Back()


def _features(n_per_class: int, seed: int) -> FeatureSet:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n_per_class)
    maps = rng.normal(size=(len(labels), 3, 4, 4)) + labels[:, None, None, None]
    ids = np.arange(len(labels))
    return FeatureSet(maps.astype(np.float16), labels.astype(np.int64), ids.astype(np.int64))


def test_a_training_stopped_after_an_epoch_goes_on_from_its_checkpoint_to_the_same_model(
    tmp_path: Path,
) -> None:
    # Given a small training run uninterrupted, as the reference
    config = TrainConfig(epochs=5, batch_size=8, cutmix_probability=0.5, threads=1)
    train, val = _features(12, seed=0), _features(4, seed=1)
    reference = _tiny_back()
    reference_epoch = fit_back(reference, train, val, config, progress=False)

    # When the same run is stopped after its third epoch (as a killed process would be)
    checkpoint = tmp_path / "checkpoint.pt"

    def stop_after_third(epoch: int, _top1: float, _nll: float) -> None:
        if epoch == 3:
            raise _Stop

    with pytest.raises(_Stop):
        fit_back(
            _tiny_back(),
            train,
            val,
            config,
            progress=False,
            on_epoch=stop_after_third,
            checkpoint=checkpoint,
        )
    # (the stop came before epoch 3's checkpoint: what is on disk is epoch 2's)
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 2

    # And started again with a fresh network and the same checkpoint
    resumed, epochs_run = _tiny_back(), []
    resumed_epoch = fit_back(
        resumed,
        train,
        val,
        config,
        progress=False,
        on_epoch=lambda epoch, _top1, _nll: epochs_run.append(epoch),
        checkpoint=checkpoint,
    )

    # Then only the epochs not yet done are run
    assert epochs_run == [3, 4, 5]
    # And it ends where the uninterrupted run ended: the same epoch kept, the same weights
    assert resumed_epoch == reference_epoch
    for name, weight in reference.state_dict().items():
        assert torch.equal(weight, resumed.state_dict()[name]), name
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 5
