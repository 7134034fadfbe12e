"""Training benchmark: median time of one training step of the classifier's back, in the
memory layout ``fit_back`` uses (channels last) against PyTorch's default (channels first).

    python benchmarks/bench_training.py [--from-block 8] [--batch 64] [--threads 2] [--runs 7]

A step is what ``fit_back`` does per batch: forward over cached front maps (random here: the
time does not depend on their values), cross-entropy, backward, AdamW. Needs the ``train``
extra. Run it on a quiet machine; the ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

N_LABELS = 72  # the shipped vocabulary


def median_step_s(back: Any, maps: Any, targets: Any, runs: int) -> float:
    import torch

    optimizer = torch.optim.AdamW(back.parameters(), lr=1e-4)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(back(maps), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-block", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import numpy as np
    import torch

    from aircraftml.vision.train import INPUT_SIZE_PX, TrainConfig, build_networks, load_backbone

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = TrainConfig(fine_tune_from_block=args.from_block)
    front, back = build_networks(load_backbone(), N_LABELS, config)
    back.train()
    with torch.no_grad():
        image = torch.from_numpy(np.zeros((1, 3, INPUT_SIZE_PX, INPUT_SIZE_PX), np.float32))
        map_shape = front(image).shape[1:]
    maps = torch.randn(args.batch, *map_shape)
    targets = torch.randint(0, N_LABELS, (args.batch,))
    print(
        f"back from block {args.from_block}, maps {tuple(map_shape)}, batch {args.batch}, "
        f"threads {args.threads}, median of {args.runs} steps"
    )
    layouts = {"channels first": torch.contiguous_format, "channels last": torch.channels_last}
    medians = {}
    for name, layout in layouts.items():
        back.to(memory_format=layout)  # the same network each time, laid out anew
        medians[name] = median_step_s(
            back, maps.contiguous(memory_format=layout), targets, args.runs
        )
        print(f"  {name:14s} {medians[name]:.3f} s a step")
    ratio = medians["channels first"] / medians["channels last"]
    print(f"channels last is {ratio:.2f}x as fast")


if __name__ == "__main__":
    main()
