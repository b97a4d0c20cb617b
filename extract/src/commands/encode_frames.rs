//! `dist-extract encode-frames`: the vision tower on frames from a .npy file, for parity checks against
//! other implementations.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{bail, Context};
use burn::tensor::Tensor;

use super::common::{write_safetensors, Array, ModelArgs};

/// `encode-frames --model P --frames F.npy --out O.safetensors`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// u8 frames [T, H, W, 3] (RGB) at the model's input size (other sizes resample the position table).
    #[arg(long)]
    frames: PathBuf,
    /// Output: hidden_states.{0..L} f32 [T, N+1, C], pooled [T, C], image_embeds [T, E].
    #[arg(long)]
    out: PathBuf,
    /// Frames per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
}

impl Args {
    /// Runs the command.
    ///
    /// # Errors
    /// Unreadable or ill-shaped frames, model loading, writing the output.
    pub fn run(self) -> anyhow::Result<()> {
        let (shape, frames) = read_frames(&self.frames)?;
        let model = self.model.load()?;
        let [t, h, w, _] = shape;
        let frame_len = h * w * 3;
        let mut hidden: Vec<Vec<Tensor<3>>> = Vec::new();
        let (mut pooled, mut embeds) = (Vec::new(), Vec::new());
        for (i, chunk) in frames.chunks(frame_len * self.batch.max(1)).enumerate() {
            let n = chunk.len() / frame_len;
            let pixels = model.vision.pixels_from_u8(chunk, [n, h, w, 3])?;
            let out = model.vision.forward(pixels).with_context(|| format!("frames batch {i}"))?;
            hidden.resize_with(out.hidden_states.len(), Vec::new);
            for (layer, state) in out.hidden_states.into_iter().enumerate() {
                hidden[layer].push(state);
            }
            pooled.push(out.pooled);
            embeds.push(out.image_embeds);
        }
        let mut arrays = Vec::with_capacity(hidden.len() + 2);
        for (layer, parts) in hidden.into_iter().enumerate() {
            arrays.push((format!("hidden_states.{layer}"), Array::from_tensor(Tensor::cat(parts, 0))?));
        }
        arrays.push(("pooled".into(), Array::from_tensor(Tensor::cat(pooled, 0))?));
        arrays.push(("image_embeds".into(), Array::from_tensor(Tensor::cat(embeds, 0))?));
        write_safetensors(&self.out, arrays)?;
        eprintln!("encoded {t} frames of {h}x{w} with {} -> {}", model.fingerprint.architecture, self.out.display());
        Ok(())
    }
}

/// Reads a C-order u8 `[T, H, W, 3]` .npy file.
fn read_frames(path: &PathBuf) -> anyhow::Result<([usize; 4], Vec<u8>)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let npy = npyz::NpyFile::new(BufReader::new(file)).with_context(|| format!("{} is not a .npy file", path.display()))?;
    let dims: Vec<usize> = npy.shape().iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
    let type_str = npy.dtype().descr().trim_matches('\'').to_string();
    if npy.order() != npyz::Order::C || !matches!(type_str.as_str(), "|u1" | "<u1") {
        bail!("{}: frames must be a C-order uint8 array, found dtype {type_str}", path.display());
    }
    let &[t, h, w, 3] = dims.as_slice() else {
        bail!("{}: frames must be [T, H, W, 3], found shape {dims:?}", path.display());
    };
    if t == 0 {
        bail!("{}: no frames", path.display());
    }
    let data = npy.into_vec::<u8>().with_context(|| format!("reading {}", path.display()))?;
    Ok(([t, h, w, 3], data))
}
