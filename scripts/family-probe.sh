#!/usr/bin/env bash
# Which time-reversal families can a model learn, one family at a time? (docs/demo.md, "The senses
# are not learnt"). Per family: the benchmark with that family only, features from a builtin, one
# training run with a demo config, validation top-1 every 5 epochs (chance 50% for a paired family).
#
#   scripts/family-probe.sh [--families translate,rotate,...] [--clips N] [--epochs E]
#                           [--config configs/train/demo-temporal-only.toml] [--model builtin:tiny-random]
#                           [--out DIR]
#
# Prebuilt binaries from DEMO_BIN (default target/debug); `cargo build -p dist-extract -p dist-train`
# first. Session 3 figures (40 clips, 40 epochs, temporal-only, mean pooling or AdaPooling): translate and
# approach 100% from epoch 10, rotate and event_order 50%. Session 7: rotate (now a fan) 100% from
# epoch 15 with `pooling = "weighted"` in the config, 50% with AdaPooling.
set -euo pipefail
cd "$(dirname "$0")/.."

FAMILIES=translate,rotate,approach,event_order
CLIPS=40
EPOCHS=40
CONFIG=configs/train/demo-temporal-only.toml
MODEL=builtin:tiny-random
OUT=/tmp/family-probe
while (($#)); do
  case "$1" in
    --families) FAMILIES="$2"; shift ;;
    --clips) CLIPS="$2"; shift ;;
    --epochs) EPOCHS="$2"; shift ;;
    --config) CONFIG="$2"; shift ;;
    --model) MODEL="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
  shift
done
BIN=${DEMO_BIN:-target/debug}

IFS=, read -ra families <<< "$FAMILIES"
for fam in "${families[@]}"; do
  dir="$OUT/$fam"
  rm -rf "$dir"
  "$BIN/dist-extract" synth --out "$dir/videos" --clips-per-class "$CLIPS" --seed 1 --codec ffv1 --families "$fam" > /dev/null 2>&1
  "$BIN/dist-extract" run --manifest train="$dir/videos/train.txt" --manifest val="$dir/videos/val.txt" \
    --classes "$dir/videos/classes.txt" --model "$MODEL" --out "$dir/store" \
    --config configs/extract/demo-synth.toml > /dev/null 2>&1
  curve=$(RUST_LOG=info "$BIN/dist-train" fit --store "$dir/store" --config "$CONFIG" --out "$dir/run" \
            --epochs "$EPOCHS" --seed 1 2>&1 | sed 's/\x1b\[[0-9;]*m//g' \
            | grep -o 'epoch=[0-9]* top1=[0-9.]*' | sed 's/epoch=//; s/ top1=/:/' | tr '\n' ' ')
  echo "$fam (epoch:validation top-1): $curve"
done
