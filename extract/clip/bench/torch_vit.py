#!/usr/bin/env python3
"""PyTorch side of dist-clip's ViT benchmark (spawned by `clip-bench`; runnable alone).

Times transformers' CLIPVisionModel in the ViT-B/16 shape (random weights, fp32, eval, inference_mode)
returning every hidden state, and a square sgemm, and prints one JSON object per measurement:

    /work/torch-venv/bin/python extract/clip/bench/torch_vit.py --batch 8 --batch 32 --iters 3
"""

import argparse
import json
import time

import torch


def best_of(fn, iters):
    fn()  # warm-up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, action="append", required=True)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    ap.add_argument("--gemm", type=int, default=2048)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    n = args.gemm
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, median = best_of(lambda: a @ b, args.iters)
    print(json.dumps({"what": "sgemm", "n": n, "best_s": best, "median_s": median,
                      "gflops": 2 * n ** 3 / best / 1e9, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}), flush=True)

    config = CLIPVisionConfig(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12,
                              num_attention_heads=12, intermediate_size=3072, hidden_act="quick_gelu")
    model = CLIPVisionModel(config).eval()
    for batch in args.batch:
        pixels = torch.randn(batch, 3, 224, 224)

        def forward():
            with torch.inference_mode():
                out = model(pixel_values=pixels, output_hidden_states=True)
            return out.hidden_states

        best, median = best_of(forward, args.iters)
        print(json.dumps({"what": "vit_b16", "batch": batch, "best_s": best, "median_s": median,
                          "frames_per_s": batch / best, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
