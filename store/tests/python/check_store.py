"""Reads a dist store with tools nobody here wrote (zarr-python v3, pandas, pyarrow) and compares
with the values the Rust reader wrote to EXPECTED (raw little-endian files + expected.json).

Usage: check_store.py STORE EXPECTED_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import zarr

store, expected_dir = Path(sys.argv[1]), Path(sys.argv[2])
exp = json.loads((expected_dir / "expected.json").read_text())

group = zarr.open_group(store, mode="r")
meta = group.attrs["dist"]
assert meta["format_version"] == 1, meta
spatial = group["spatial"]
frames = group["frames"]
assert list(spatial.shape) == exp["spatial_shape"], (spatial.shape, exp["spatial_shape"])
assert list(frames.shape) == exp["frames_shape"], (frames.shape, exp["frames_shape"])
assert str(spatial.dtype) == exp["dtype"], (spatial.dtype, exp["dtype"])
# Codec chains as zarr-python sees them: sharding with inner [bytes, zstd] or [bytes] alone.
for name in ["spatial", "frames"] + (["spatial_scale"] if meta["element_type"] == "int8" else []):
    sharding = group[name].metadata.to_dict()["codecs"]
    assert [c["name"] for c in sharding] == ["sharding_indexed"], sharding
    inner = [c["name"] for c in sharding[0]["configuration"]["codecs"]]
    assert inner == exp["codecs"], (name, inner, exp["codecs"])

for clip in exp["clips"]:
    want = np.fromfile(expected_dir / f"spatial-{clip}.f32", dtype="<f4").reshape(spatial.shape[1:])
    got = np.asarray(spatial[clip]).astype(np.float32)
    if meta["element_type"] == "int8":
        scale = np.asarray(group["spatial_scale"][clip])
        got = got * scale[..., None]
    assert np.array_equal(got, want), f"spatial clip {clip}: max diff {np.abs(got - want).max()}"
    want_frames = np.fromfile(expected_dir / f"frames-{clip}.u8", dtype=np.uint8).reshape(frames.shape[1:])
    assert np.array_equal(np.asarray(frames[clip]), want_frames), f"frames clip {clip}"

videos = pd.read_parquet(store / "videos.parquet")
clips = pd.read_parquet(store / "clips.parquet")
assert len(videos) == exp["videos"], (len(videos), exp["videos"])
assert sorted(clips["clip"].tolist()) == sorted(exp["clips"]), clips["clip"].tolist()
assert set(videos["status"]) <= {"ok", "failed"}
row = clips.set_index("clip").loc[exp["clips"][0]]
assert list(row["dense_indices"]) == exp["first_dense_indices"], row["dense_indices"]
table = pq.read_table(store / "clips.parquet")
assert table.num_rows == len(exp["clips"])

labels = group["text"]["train"]
label_codecs = [c["name"] for c in labels.metadata.to_dict()["codecs"]]
assert label_codecs == exp["codecs"], (label_codecs, exp["codecs"])
assert list(labels.attrs["classes"]) == exp["classes"], labels.attrs["classes"]
assert np.allclose(np.asarray(labels[:]), np.array(exp["text"], dtype=np.float32))
print(f"ok: {len(exp['clips'])} clips, {len(videos)} videos, dtype {spatial.dtype}, codecs {exp['codecs']}")
