"""Every block trains (``--fine-tune-from 0``): fresh views of the photos each epoch, no cache.

Needs the 'train' extra (torch and the EfficientNet packages); skipped without it. One
thread: a full network's backward pass on two threads shared with another job crawls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aircraftml.cli import main
from aircraftml.vision import train as tr
from aircraftml.vision.dataset import list_labels, list_split

torch = pytest.importorskip("torch", reason="training needs torch (the 'train' extra)")
pytest.importorskip("efficientnet_lite_pytorch", reason="training needs the 'train' extra")

from test_train import make_pattern_dataset  # noqa: E402  (after the skips)


def _fresh_views(data_dir: Path, config: tr.TrainConfig) -> tr.FreshViews:
    labels = list_labels(data_dir)
    return tr.FreshViews(list_split(data_dir, "train", labels), config, progress=False)


def test_each_epoch_cuts_new_views_and_any_worker_cuts_the_same_ones(tmp_path: Path) -> None:
    # Given the photos of a tiny dataset kept for fresh views
    make_pattern_dataset(tmp_path, {"train": 4})
    config = replace(tr.TrainConfig.quick(), fine_tune_from_block=0, threads=2)
    views = _fresh_views(tmp_path, config)
    batches = tr.epoch_batches(views, config, np.random.default_rng(0))

    # When an epoch's batches are cut in the process, and again by two DataLoader workers
    inline = [views.views(ids, 3, k) for k, ids in enumerate(batches)]
    loaded = list(views.batches(batches, 3))

    # Then they are the same views (a resumed training sees what an unstopped one saw)
    assert len(loaded) == len(batches) == 2  # 12 photos in batches of 8
    for ours, theirs in zip(inline, loaded, strict=True):
        assert ours.shape == (len(theirs), 3, 224, 224)
        np.testing.assert_array_equal(ours, theirs.numpy())
    # And another epoch cuts other views of the same photos
    assert not np.array_equal(inline[0], views.views(batches[0], 4, 0))


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_torch_thread")
def test_every_block_learns_the_stem_too(tmp_path: Path) -> None:
    # Given the whole network as the part that trains
    make_pattern_dataset(tmp_path, {"train": 4})
    config = replace(tr.TrainConfig.quick(), fine_tune_from_block=0, epochs=1, threads=1)
    front, back = tr.build_networks(tr.load_backbone(), 3, config)
    stem_before = back.stem.conv.weight.detach().clone()
    first_block_before = back.blocks[0]._depthwise_conv.weight.detach().clone()

    # When it trains an epoch on fresh views
    tr.fit_back(back, _fresh_views(tmp_path, config), None, config, progress=False)

    # Then the front is nothing, and the stem and the first block moved
    x = torch.ones(1, 3, 8, 8)
    assert torch.equal(front(x), x)
    assert not torch.equal(back.stem.conv.weight, stem_before)
    assert not torch.equal(back.blocks[0]._depthwise_conv.weight, first_block_before)


@pytest.mark.slow
def test_train_every_block_through_the_cli_then_classify(tmp_path: Path) -> None:
    # Given a tiny dataset of three patterns
    data_dir, model_dir = tmp_path / "data", tmp_path / "model"
    make_pattern_dataset(data_dir, {"train": 8, "val": 4, "test": 4})
    runner = CliRunner()

    # When every block trains through the CLI, with a cache folder (for its checkpoint)
    args = ["--quick", "--quiet", "--fine-tune-from", "0", "--epochs", "3", "--threads", "1"]
    cache = tmp_path / "cache"
    trained = runner.invoke(
        main, ["train", str(data_dir), "--out", str(model_dir), "--cache", str(cache), *args]
    )

    # Then the model says how it was trained, no feature was cached, and the checkpoint is gone
    assert trained.exit_code == 0, trained.output
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["training"]["config"]["fine_tune_from_block"] == 0
    assert list(cache.iterdir()) == []
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "every block fine-tuned" in card and "fresh random resized crop" in card
    # And it tells the patterns apart on the test split, as the bot would run it (ONNX)
    evaluated = runner.invoke(
        main, ["evaluate", str(data_dir), "--model", str(model_dir), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["top1"] >= 0.9
