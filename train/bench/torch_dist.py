#!/usr/bin/env python3
"""PyTorch side of the DiST model benchmark (spawned by `bench-model --python ...`).

Times the official DiST branch (as re-created in train/fixtures/make_fixtures.py) on one
ViT-B/16-shaped batch on the CPU: forward under no_grad, or forward + backward of sum(out^2);
prints best/mean time and peak RSS (ru_maxrss) of this process.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures"))
from make_fixtures import Cfg, DiSTNetwork  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["forward", "train"], default="train")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--gamma", type=int, default=2)
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)

    c = Cfg()
    c.width, c.patch, c.integration_dim, c.temporal_dim = 768, 16, 384, 96
    c.ada_pooling_layers, c.output_dim = 2, 512
    c.num_input_frames, c.alpha = args.frames * args.gamma, args.gamma
    c.selected_layers = list(range(12))
    net = DiSTNetwork(c)
    b, t, grid = args.batch, args.frames, args.image // c.patch
    images = torch.randn(b * c.num_input_frames, 3, args.image, args.image)
    taps = {l: torch.randn(grid * grid + 1, b * t, c.width) for l in c.selected_layers}

    times = []
    for rep in range(args.reps + 1):
        start = time.perf_counter()
        if args.mode == "forward":
            with torch.no_grad():
                net(images, taps)
        else:
            net.zero_grad(set_to_none=True)
            (net(images, taps) ** 2).sum().backward()
        if rep > 0:
            times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads) {args.mode:<8} B={b} T={t} γ={args.gamma} "
        f"{args.image}px: best {min(times):.3f} s, mean {sum(times) / len(times):.3f} s over {args.reps} reps, "
        f"peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
