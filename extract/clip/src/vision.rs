//! The image tower: patch embedding, class token, positions, pre-LayerNorm, residual blocks,
//! post-LayerNorm on the class token, projection
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/clip/modeling_clip.py>,
//! `CLIPVisionTransformer`).

use burn::module::{Module, Param};
use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::config::VisionConfig;
use crate::error::{ClipError, Result};
use crate::layers::{download, param, upload, BlockConfig, LayerNorm, ResidualBlock};
use crate::pos_embed::resize_positions;
use crate::weights::{HostTensor, VisionWeights};

/// What the tower returns for a batch of images.
#[derive(Debug, Clone)]
pub struct VisionOutput {
    /// `L + 1` entries `[B, N+1, C]`, as transformers' `hidden_states`: 0 is the input of the first block
    /// (after the pre-LayerNorm), `l` the output of block `l` (the raw residual stream, CLS first).
    pub hidden_states: Vec<Tensor<3>>,
    /// `[B, C]`: the post-LayerNorm class token.
    pub pooled: Tensor<2>,
    /// `[B, E]`: `pooled` projected into the joint embedding (equal to `pooled` without a projection).
    pub image_embeds: Tensor<2>,
}

/// The frozen CLIP ViT.
///
/// A burn [`Module`] so that the builtin tiny model can be pretrained (`crate::pretrain`); loaded
/// checkpoints are only ever run forward.
#[derive(Module, Debug)]
pub struct VisionTower {
    #[module(skip)]
    config: VisionConfig,
    /// Not named `device`: burn's `Module` derive uses that name in its generated methods.
    #[module(skip)]
    home: Device,
    #[module(skip)]
    dtype: DType,
    #[module(skip)]
    mean: [f32; 3],
    #[module(skip)]
    std: [f32; 3],
    /// `[3·p·p, C]`.
    patch: Param<Tensor<2>>,
    /// `[C]`.
    class_embedding: Param<Tensor<1>>,
    /// `[1 + g·g, C]` on the host, resampled for other input sizes.
    #[module(skip)]
    positions_host: HostTensor,
    /// `[1 + g·g, C]`.
    positions: Param<Tensor<2>>,
    ln_pre: LayerNorm,
    blocks: Vec<ResidualBlock>,
    ln_post: LayerNorm,
    /// `[C, E]`.
    projection: Option<Param<Tensor<2>>>,
}

impl VisionTower {
    pub(crate) fn new(
        config: VisionConfig,
        w: &VisionWeights,
        norm: ([f32; 3], [f32; 3]),
        device: &Device,
        dtype: DType,
    ) -> Self {
        let block = BlockConfig {
            heads: config.heads,
            activation: config.activation,
            eps: config.layer_norm_eps,
            causal: false,
        };
        Self {
            home: device.clone(),
            dtype,
            mean: norm.0,
            std: norm.1,
            patch: param(&w.patch, device, dtype),
            class_embedding: param(&w.class_embedding, device, dtype),
            positions_host: w.positions.clone(),
            positions: param(&w.positions, device, dtype),
            ln_pre: LayerNorm::new(&w.ln_pre, config.layer_norm_eps, device, dtype),
            blocks: w
                .blocks
                .iter()
                .map(|b| ResidualBlock::new(b, block, device, dtype))
                .collect(),
            ln_post: LayerNorm::new(&w.ln_post, config.layer_norm_eps, device, dtype),
            projection: w.projection.as_ref().map(|p| param(p, device, dtype)),
            config,
        }
    }

    /// The current weights on the host, in f32 (what [`Self::new`] was built from, after training).
    pub(crate) fn host_weights(&self) -> VisionWeights {
        VisionWeights {
            patch: download(&self.patch),
            class_embedding: download(&self.class_embedding),
            positions: download(&self.positions),
            ln_pre: self.ln_pre.host(),
            blocks: self.blocks.iter().map(ResidualBlock::host).collect(),
            ln_post: self.ln_post.host(),
            projection: self.projection.as_ref().map(download),
        }
    }

    /// The architecture.
    #[must_use]
    pub fn config(&self) -> &VisionConfig {
        &self.config
    }

    /// The dtype the tower computes in (its weights' dtype). Outputs are always f32.
    #[must_use]
    pub fn compute_dtype(&self) -> DType {
        self.dtype
    }

    /// The device the weights live on.
    #[must_use]
    pub fn device(&self) -> &Device {
        &self.home
    }

    /// Pixel mean and std the checkpoint was trained with.
    #[must_use]
    pub fn normalisation(&self) -> ([f32; 3], [f32; 3]) {
        (self.mean, self.std)
    }

    /// Runs the whole tower, returning every hidden state, the pooled token and the embedding.
    ///
    /// # Shapes
    /// - pixels: `[B, 3, H, W]`, CLIP-normalised f32 (see [`Self::pixels_from_u8`]). `H`, `W` other than
    ///   the trained size resample the position table bicubically; a remainder smaller than a patch is
    ///   dropped, as the strided conv does.
    /// - output: see [`VisionOutput`]
    ///
    /// # Errors
    /// [`ClipError::InvalidInput`] when pixels are not 3-channel or smaller than one patch.
    pub fn forward(&self, pixels: Tensor<4>) -> Result<VisionOutput> {
        let mut hidden_states = Vec::with_capacity(self.blocks.len() + 1);
        let mut x = self.embed(pixels)?;
        hidden_states.push(x.clone());
        for block in &self.blocks {
            x = block.forward(x);
            hidden_states.push(x.clone());
        }
        let (pooled, image_embeds) = self.pool(x);
        Ok(VisionOutput {
            hidden_states: hidden_states.into_iter().map(|h| self.to_f32(h)).collect(),
            pooled,
            image_embeds,
        })
    }

    /// Runs the tower only as far as the deepest requested hidden state and returns those, in the order
    /// asked (e.g. `[5, 6, ..., 12]` for the extraction job). Blocks after the last one asked are skipped.
    ///
    /// # Shapes
    /// - pixels: `[B, 3, H, W]`
    /// - output: `layers.len()` tensors `[B, N+1, C]`
    ///
    /// # Errors
    /// [`ClipError::LayerOutOfRange`] for an index above the block count; [`ClipError::InvalidInput`] as
    /// for [`Self::forward`].
    pub fn forward_layers(&self, pixels: Tensor<4>, layers: &[usize]) -> Result<Vec<Tensor<3>>> {
        let max = self.blocks.len();
        if let Some(&layer) = layers.iter().find(|&&l| l > max) {
            return Err(ClipError::LayerOutOfRange { layer, max });
        }
        let deepest = layers.iter().copied().max().unwrap_or(0);
        let mut kept: Vec<Option<Tensor<3>>> = vec![None; deepest + 1];
        let mut x = self.embed(pixels)?;
        for (depth, slot) in kept.iter_mut().enumerate() {
            if depth > 0 {
                x = self.blocks[depth - 1].forward(x);
            }
            if layers.contains(&depth) {
                *slot = Some(self.to_f32(x.clone()));
            }
        }
        Ok(layers
            .iter()
            .map(|&l| kept[l].clone().expect("every requested layer was kept"))
            .collect())
    }

    /// Turns u8 RGB frames into CLIP-normalised pixels: `(x / 255 − mean) / std`, channels first.
    ///
    /// # Shapes
    /// - frames: `[B, H, W, 3]` row-major u8, `shape = [B, H, W, 3]`
    /// - output: `[B, 3, H, W]` f32
    ///
    /// # Errors
    /// [`ClipError::InvalidInput`] when the buffer length does not match `shape` or the last dim is not 3.
    pub fn pixels_from_u8(&self, frames: &[u8], shape: [usize; 4]) -> Result<Tensor<4>> {
        let [b, h, w, ch] = shape;
        if ch != 3 || frames.len() != b * h * w * 3 {
            return Err(ClipError::InvalidInput(format!(
                "frames must be u8 [B, H, W, 3]; got shape {shape:?} with {} bytes",
                frames.len()
            )));
        }
        let plane = h * w;
        let mut out = vec![0.0f32; b * 3 * plane];
        for (frame, dst) in frames
            .chunks_exact(plane * 3)
            .zip(out.chunks_exact_mut(plane * 3))
        {
            for (i, px) in frame.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * plane + i] = (f32::from(px[c]) / 255.0 - self.mean[c]) / self.std[c];
                }
            }
        }
        Ok(Tensor::<4>::from_data(
            TensorData::new(out, [b, 3, h, w]),
            &self.home,
        ))
    }

    /// Patch embedding + class token + positions + pre-LayerNorm: hidden state 0.
    ///
    /// # Shapes
    /// - pixels: `[B, 3, H, W]`
    /// - output: `[B, 1 + gh·gw, C]`
    fn embed(&self, pixels: Tensor<4>) -> Result<Tensor<3>> {
        let [b, channels, h, w] = pixels.dims();
        let p = self.config.patch_size;
        let c = self.config.width;
        let (gh, gw) = (h / p, w / p);
        if channels != 3 || gh == 0 || gw == 0 {
            return Err(ClipError::InvalidInput(format!(
                "pixels must be [B, 3, H, W] with H, W >= {p}; got {:?}",
                [b, channels, h, w]
            )));
        }
        let pixels = if pixels.dtype() == self.dtype {
            pixels
        } else {
            pixels.cast(self.dtype)
        };
        let pixels = if gh * p == h && gw * p == w {
            pixels
        } else {
            pixels.narrow(2, 0, gh * p).narrow(3, 0, gw * p)
        };
        // The stride-p conv as one GEMM: [B·gh·gw, 3·p·p] @ [3·p·p, C].
        let patches = pixels
            .reshape([b, 3, gh, p, gw, p])
            .permute([0, 2, 4, 1, 3, 5]) // [B, gh, gw, 3, p, p]
            .reshape([b * gh * gw, 3 * p * p]);
        let tokens = dist_kernels::matmul(patches, self.patch.val()).reshape([b, gh * gw, c]); // [B, gh·gw, C]
        let cls = self
            .class_embedding
            .val()
            .reshape([1, 1, c])
            .expand([b, 1, c]);
        let positions = self.positions_for(gh, gw);
        let x = Tensor::cat(vec![cls, tokens], 1) + positions.unsqueeze_dim::<3>(0); // [B, 1+gh·gw, C]
        Ok(self.ln_pre.forward(x))
    }

    /// The position table for a `gh x gw` grid.
    fn positions_for(&self, gh: usize, gw: usize) -> Tensor<2> {
        let grid = self.config.grid();
        if gh == grid && gw == grid {
            return self.positions.val();
        }
        tracing::debug!(
            from = grid,
            to_h = gh,
            to_w = gw,
            "bicubic position-table resampling"
        );
        upload(
            &resize_positions(&self.positions_host, grid, gh, gw),
            &self.home,
            self.dtype,
        )
    }

    /// Post-LayerNorm on the class token and projection.
    ///
    /// # Shapes
    /// - last: `[B, N+1, C]`
    /// - output: (`[B, C]`, `[B, E]`)
    fn pool(&self, last: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        let [b, _, c] = last.dims();
        let pooled = self.ln_post.forward(last.narrow(1, 0, 1).reshape([b, c]));
        let embeds = match &self.projection {
            Some(p) => pooled.clone().matmul(p.val()),
            None => pooled.clone(),
        };
        (self.to_f32(pooled), self.to_f32(embeds))
    }

    fn to_f32<const D: usize>(&self, t: Tensor<D>) -> Tensor<D> {
        if self.dtype == DType::F32 {
            t
        } else {
            t.cast(DType::F32)
        }
    }
}
