"""Scores the demo's models from their test predictions and writes demo-out/results.json.

Usage: demo_results.py SYNTH_DIR OUT_JSON NAME=RUN_DIR [NAME=RUN_DIR ...]

For every run, reads RUN_DIR/eval-test/predictions.parquet (video_id, label index, `scores`: every
class's share of the summed multi-view softmax, in class-index order) and SYNTH_DIR/families.json
(class index -> family, sense) and computes:
- top1: overall top-1 accuracy over all test videos (all classes compete);
- sense[family]: over the test videos of a paired family, the share whose true class scores higher
  than its time reversal (the other class of the family); a tie counts half;
- control_top1: over the control videos, the share whose true shape scores highest among the
  control task's own classes (the control is a 4-way shape task: a control disc moving rightwards
  looks, frame for frame, like a translate clip, so the other families' classes do not compete).
Prints a table and writes {"models": {NAME: {...}}}, plus two plots beside OUT_JSON:
curves.png (every model's training loss and validation top-1 from RUN_DIR/metrics.parquet) and
accuracy.png (test top-1, sense per family and control accuracy as grouped bars).
"""

import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import pandas as pd

PAIRED = ["translate", "rotate", "approach", "event_order"]


def best(classes, scores: list[float]) -> int:
    """The class of `classes` with the highest score (the lowest index on a tie)."""
    return max(classes, key=lambda i: (scores[i], -i))


def score_run(predictions: pd.DataFrame, families: list[dict]) -> dict:
    family_of = {f["index"]: f["family"] for f in families}
    by_family = defaultdict(list)
    for f in families:
        by_family[f["family"]].append(f["index"])
    partner = {}
    for fam in PAIRED:
        a, b = sorted(by_family[fam])
        partner[a], partner[b] = b, a
    control = sorted(by_family["control"])

    correct = 0
    sense_hits = defaultdict(float)
    sense_total = defaultdict(int)
    control_hits = control_total = 0
    for row in predictions.itertuples(index=False):
        label = int(row.label)
        scores = [float(s) for s in row.scores]
        correct += best(range(len(scores)), scores) == label
        family = family_of[label]
        if family in PAIRED:
            own, other = scores[label], scores[partner[label]]
            sense_total[family] += 1
            sense_hits[family] += 1.0 if own > other else 0.5 if own == other else 0.0
        else:
            control_total += 1
            control_hits += best(control, scores) == label
    return {
        "top1": correct / len(predictions),
        "sense": {fam: sense_hits[fam] / sense_total[fam] if sense_total[fam] else None for fam in PAIRED},
        "control_top1": control_hits / control_total if control_total else None,
        "test_videos": len(predictions),
    }


def percent(x: float | None, width: int) -> str:
    return f"{'-':>{width}}" if x is None else f"{100 * x:>{width}.1f}"


def plot_curves(path: str, runs: dict[str, str]) -> None:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, run in runs.items():
        m = pd.read_parquet(f"{run}/metrics.parquet")
        train = m[m["loss"].notna()]
        # One point per epoch keeps the curves readable: the mean loss of its steps.
        per_epoch = train.groupby(train["epoch"].apply(lambda e: int(e - 1e-9) + 1))["loss"].mean()
        loss_ax.plot(per_epoch.index, per_epoch.values, label=name)
        val = m[m["top1"].notna()]
        acc_ax.plot(val["epoch"], 100 * val["top1"], marker="o", label=name)
    loss_ax.set(title="training loss (mean per epoch)", xlabel="epoch", ylabel="soft-target cross-entropy")
    acc_ax.set(title="validation top-1", xlabel="epoch", ylabel="%", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_accuracy(path: str, models: dict[str, dict]) -> None:
    groups = ["top1"] + PAIRED + ["control"]
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / max(len(models), 1)
    for i, (name, m) in enumerate(models.items()):
        values = [m["top1"]] + [m["sense"][f] for f in PAIRED] + [m["control_top1"]]
        xs = [g + i * width for g in range(len(groups))]
        ax.bar(xs, [100 * (v or 0) for v in values], width, label=name)
    ax.axhline(50, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([g + width * (len(models) - 1) / 2 for g in range(len(groups))])
    ax.set_xticklabels(["top-1"] + [f"sense: {f}" for f in PAIRED] + ["control top-1"])
    ax.set(ylabel="test accuracy (%)", ylim=(0, 105), title="test split (dashed: chance of a sense)")
    ax.legend(ncol=len(models), fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    synth_dir, out_json, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(f"{synth_dir}/families.json") as f:
        families = json.load(f)
    models = {}
    run_dirs = dict(spec.split("=", 1) for spec in runs)
    for name, run in run_dirs.items():
        predictions = pd.read_parquet(f"{run}/eval-test/predictions.parquet")
        models[name] = score_run(predictions, families)
    with open(out_json, "w") as f:
        json.dump({"models": models}, f, indent=2)
    out_dir = os.path.dirname(out_json) or "."
    plot_curves(os.path.join(out_dir, "curves.png"), run_dirs)
    plot_accuracy(os.path.join(out_dir, "accuracy.png"), models)

    header = f"{'model':<18}{'top1':>7}" + "".join(f"{fam:>13}" for fam in PAIRED) + f"{'control':>9}"
    print("test accuracy (%); the family columns are sense-within-family (clip vs its reversal)")
    print(header)
    for name, m in models.items():
        cells = "".join(percent(m["sense"][fam], 13) for fam in PAIRED)
        print(f"{name:<18}{percent(m['top1'], 7)}{cells}{percent(m['control_top1'], 9)}")
    print(f"wrote {out_json}, {out_dir}/curves.png and {out_dir}/accuracy.png")


if __name__ == "__main__":
    main()
