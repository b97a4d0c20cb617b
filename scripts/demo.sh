#!/usr/bin/env bash
# The demo: synthetic time-reversal videos -> dist-extract (built-in tiny CLIP) -> dist-train (DiST and
# the Table 1a ablations) -> multi-view evaluation on held-out clips -> demo-out/results.json.
#
#   scripts/demo.sh [--quick] [--out DIR]
#
# --quick: fewer clips and epochs (the version tests/tests/demo.rs runs). See docs/demo.md.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
OUT=demo-out
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT="$2"; shift ;;
    *) echo "usage: scripts/demo.sh [--quick] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  CLIPS_PER_CLASS=${DEMO_CLIPS_PER_CLASS:-40}
  EPOCHS=${DEMO_EPOCHS:-60}
else
  CLIPS_PER_CLASS=${DEMO_CLIPS_PER_CLASS:-50}
  EPOCHS=${DEMO_EPOCHS:-50}
fi
SEED=${DEMO_SEED:-1}
PYTHON=${DIST_PYTHON:-.venv/bin/python}
# model name (results.json) -> train config
MODELS=(dist:configs/train/demo-dist.toml
        spatial_only:configs/train/demo-spatial-only.toml
        temporal_only:configs/train/demo-temporal-only.toml
        integration_only:configs/train/demo-integration-only.toml)

start=$(date +%s)
stage() { echo "== [$(($(date +%s) - start)) s] $*"; }

# DEMO_BIN: a folder with prebuilt dist-extract and dist-train (skips the build).
if [ -n "${DEMO_BIN:-}" ]; then
  BIN=$DEMO_BIN
else
  stage "building dist-extract and dist-train"
  cargo build -q -p dist-extract -p dist-train
  BIN=${CARGO_TARGET_DIR:-target}/debug
fi

# Start from scratch, but only ever delete a folder an earlier demo made (it holds the marker).
if [ -e "$OUT" ]; then
  if [ ! -e "$OUT/.dist-demo" ]; then
    echo "demo: $OUT exists and was not made by scripts/demo.sh; remove it or pass --out" >&2
    exit 1
  fi
  rm -rf "$OUT"
fi
mkdir -p "$OUT"
touch "$OUT/.dist-demo"
stage "generating the time-reversal benchmark: $CLIPS_PER_CLASS clips per class, seed $SEED"
"$BIN/dist-extract" synth --out "$OUT/videos" --clips-per-class "$CLIPS_PER_CLASS" --seed "$SEED" --codec ffv1

stage "extracting features with the built-in tiny CLIP"
"$BIN/dist-extract" run --manifest train="$OUT/videos/train.txt" --manifest val="$OUT/videos/val.txt" \
  --manifest test="$OUT/videos/test.txt" --classes "$OUT/videos/classes.txt" --model builtin:tiny \
  --out "$OUT/store" --config configs/extract/demo-synth.toml

# The four trainings are independent: run them side by side, one per core (DEMO_JOBS, default the
# number of cores, at most 4), each with its share of the cores as rayon threads. A small model's
# step scales poorly past one thread, so two 1-thread runs finish well before two 2-thread runs
# one after the other. Longest first (MODELS is in that order), so the short ones fill in beside it.
CORES=$(nproc 2>/dev/null || echo 1)
JOBS=${DEMO_JOBS:-$((CORES < ${#MODELS[@]} ? CORES : ${#MODELS[@]}))}
THREADS=$((CORES / JOBS > 0 ? CORES / JOBS : 1))
mkdir -p "$OUT/runs"
train_and_eval() {  # NAME CONFIG; its log goes to runs/NAME.log
  local name=$1 config=$2
  {
    "$BIN/dist-train" fit --store "$OUT/store" --config "$config" --out "$OUT/runs/$name" --epochs "$EPOCHS" --seed "$SEED" &&
      "$BIN/dist-train" eval --store "$OUT/store" --run "$OUT/runs/$name" --split test
  } >"$OUT/runs/$name.log" 2>&1
}
stage "training and evaluating ${#MODELS[@]} models, $EPOCHS epochs each, $JOBS at a time with $THREADS thread(s) each (logs: $OUT/runs/NAME.log)"
runs=()
declare -A pid_of=()
failed=()
finish_one() {  # waits for any running training and reports it
  local done_pid status=0 name
  wait -n -p done_pid "${pid_of[@]}" || status=$?
  for name in "${!pid_of[@]}"; do
    if [ "${pid_of[$name]}" = "$done_pid" ]; then
      unset "pid_of[$name]"
      if ((status == 0)); then
        stage "$name done: $(grep -m1 'trained on' "$OUT/runs/$name.log" || true)"
      else
        stage "$name FAILED (exit $status); the end of $OUT/runs/$name.log:"
        tail -n 20 "$OUT/runs/$name.log" >&2
        failed+=("$name")
      fi
    fi
  done
}
for entry in "${MODELS[@]}"; do
  name=${entry%%:*}
  config=${entry#*:}
  while ((${#pid_of[@]} >= JOBS)); do finish_one; done
  stage "training $name ($config)"
  RAYON_NUM_THREADS=$THREADS train_and_eval "$name" "$config" &
  pid_of[$name]=$!
  runs+=("$name=$OUT/runs/$name")
done
while ((${#pid_of[@]})); do finish_one; done
if ((${#failed[@]})); then
  echo "demo: training or evaluation failed for: ${failed[*]}" >&2
  exit 1
fi

stage "scoring"
"$PYTHON" scripts/demo_results.py "$OUT/videos" "$OUT/results.json" "${runs[@]}"
echo "training curves: $OUT/runs/*/curves.png; per-class accuracy: $OUT/runs/*/eval-test/per_class.png"
stage "done"
