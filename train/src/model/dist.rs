//! [`DistModel`]: the trainable DiST network (`dist_net` in the official code) on top of the
//! frozen ViT taps. Field names follow the official checkpoint layout (spec §13).

use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Tensor};
use dist_kernels::add;

use super::ada_pooling::AdaPoolingLayer;
use super::config::{DistConfig, PoolingKind};
use super::integration_block::IntegrationBlock;
use super::lateral::{TemporalToIntegration, Upsampler};
use super::nn::{normal, Conv3d, LayerNorm, Linear, INIT_STD};
use super::stem::stem_forward;
use super::temporal_block::TemporalBlock;
use crate::error::{Error, Result};

/// The DiST temporal encoder, integration branch and pooling head. Build it with
/// [`DistConfig::init`]; run it with [`DistModel::forward`].
#[derive(Module, Debug)]
pub struct DistModel {
    /// 3D stem, `[D, 3, kT, P, P]`; absent without a temporal encoder.
    pub temporal_stem: Option<Conv3d>,
    /// FC_in per selected layer, `[A, C]`.
    pub input_linears: Vec<Linear>,
    /// Φ per selected layer. The last one is computed by the official code but never used
    /// (dead parameters, kept for checkpoint parity); this model skips computing it.
    pub integration2temporal_nets: Vec<Upsampler>,
    /// Ψ per selected layer.
    pub temporal2integration_nets: Vec<TemporalToIntegration>,
    /// T-Block per selected layer.
    pub temporal_nets: Vec<TemporalBlock>,
    /// I-Block per selected layer.
    pub integration_nets: Vec<IntegrationBlock>,
    /// Late-fusion Ψ of the last temporal state (not in the official code; see
    /// [`DistConfig::temporal_output_fusion`]).
    pub temporal_output: Option<TemporalToIntegration>,
    /// AdaPooling layers.
    pub adapooling_nets: Vec<AdaPoolingLayer>,
    /// Linear C → A on the frozen CLS token (mean over frames) of the last selected layer.
    pub proj_spatial_cls_token: Linear,
    pub ln_post: LayerNorm,
    /// `[A, E]`, no bias.
    pub proj: Param<Tensor<2>>,
    /// Video query of AdaPooling, `[1, 1, A]`.
    pub aggregated_cls_token: Option<Param<Tensor<3>>>,
    /// Frame query of AdaPooling, `[1, 1, A]`.
    pub aggregated_spatial_cls_token: Option<Param<Tensor<3>>>,
    /// Weight per token position and channel of `pooling = "weighted"`, `[N+1, A]`.
    pub pooling_weights: Option<Param<Tensor<2>>>,
    #[module(skip)]
    config: DistConfig,
}

/// Batch geometry checked from the inputs.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    grid: [usize; 2],
}

impl DistConfig {
    /// Validates the config and builds the model with the official initialisation (spec §9).
    ///
    /// # Errors
    /// See [`DistConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<DistModel> {
        self.validate()?;
        let layers = self.selected_layers()?.len();
        let (a, c) = (self.integration_dim, self.width);
        let per_layer = |build: bool| if build { layers } else { 0 };
        let ada = self.has_tokens() && self.pooling == PoolingKind::Ada;
        let weighted = self.has_tokens() && self.pooling == PoolingKind::Weighted;
        Ok(DistModel {
            temporal_stem: self.has_temporal().then(|| {
                Conv3d::new(3, self.temporal_dim, [self.stem_temporal_kernel, self.patch_size, self.patch_size], device)
            }),
            input_linears: (0..per_layer(self.integration)).map(|_| Linear::new(c, a, device)).collect(),
            integration2temporal_nets: (0..per_layer(self.has_phi())).map(|_| Upsampler::new(self, device)).collect(),
            temporal2integration_nets: (0..per_layer(self.has_psi()))
                .map(|_| TemporalToIntegration::new(self, device))
                .collect(),
            temporal_nets: (0..per_layer(self.has_temporal())).map(|_| TemporalBlock::new(self, device)).collect(),
            integration_nets: (0..per_layer(self.integration)).map(|_| IntegrationBlock::new(self, device)).collect(),
            temporal_output: self.has_output_fusion().then(|| TemporalToIntegration::new(self, device)),
            adapooling_nets: (0..if ada { self.pooling_layers } else { 0 })
                .map(|_| AdaPoolingLayer::new(self, device))
                .collect(),
            proj_spatial_cls_token: Linear::new(c, a, device),
            ln_post: LayerNorm::new(a, device),
            proj: Param::from_tensor(Tensor::random(
                [a, self.embed_dim],
                Distribution::Normal(0.0, (a as f64).powf(-0.5)),
                device,
            )),
            aggregated_cls_token: ada.then(|| normal([1, 1, a], INIT_STD, device)),
            aggregated_spatial_cls_token: ada.then(|| normal([1, 1, a], INIT_STD, device)),
            // Starts as the sum over the N+1 tokens scaled by 1/√(N+1), not as their mean: the
            // mean shrinks what varies from clip to clip by √(N+1) beside the frozen-CLS shortcut,
            // and ln_post then normalises it away (docs/demo.md: the senses went from 62/69/81% to
            // 100/94/100% on translate/rotate/approach).
            pooling_weights: weighted.then(|| {
                Param::from_tensor(Tensor::full([self.patches + 1, a], ((self.patches + 1) as f64).powf(-0.5), device))
            }),
            config: self.clone(),
        })
    }
}

impl DistModel {
    /// The config the model was built from.
    #[must_use]
    pub fn config(&self) -> &DistConfig {
        &self.config
    }

    /// The video embedding (before L2 normalisation) from the frozen taps and the dense frames.
    ///
    /// Gradients never flow into `taps` or `frames` (both are detached).
    ///
    /// # Shapes
    /// - taps: one per selected layer, in order, each `[B·T, N+1, C]` (frame-major within a
    ///   clip: row `b·T + t`; token 0 is CLS; raw residual stream of the ViT block)
    /// - frames: `[B, 3, γT, H, W]`, CLIP-normalised, H and W multiples of P (ignored, and may be
    ///   any tensor, when the model has no temporal encoder)
    /// - output: `[B, E]`
    ///
    /// # Errors
    /// [`Error::InputShape`] when the inputs disagree with the config or with each other.
    pub fn forward(&self, taps: &[Tensor<3>], frames: Tensor<5>) -> Result<Tensor<2>> {
        let geometry = self.check_inputs(taps, &frames)?;
        let taps: Vec<Tensor<3>> = taps.iter().map(|tap| tap.clone().detach()).collect();
        let batch = geometry.batch;
        let t = self.config.frames;
        let c = self.config.width;

        let last = taps.last().expect("checked non-empty");
        let cls = last.clone().narrow(1, 0, 1).reshape([batch, t, c]).mean_dim(1).reshape([batch, c]);
        let mut video = self.proj_spatial_cls_token.forward(cls); // [B, A]

        if let Some(tokens) = self.integrate(&taps, frames.detach(), geometry) {
            video = video + self.pool(tokens, batch);
        }
        Ok(self.ln_post.forward(video).matmul(self.proj.val()))
    }

    /// Runs the temporal encoder and the integration branch; returns F, or `None` for the
    /// spatial-only baseline.
    ///
    /// # Shapes
    /// - taps: as in [`Self::forward`]; frames `[B, 3, γT, H, W]` → F `[B·T, N+1, A]`
    fn integrate(&self, taps: &[Tensor<3>], frames: Tensor<5>, geometry: Geometry) -> Option<Tensor<3>> {
        let config = &self.config;
        let Geometry { batch, grid } = geometry;
        let mut z = self.temporal_stem.as_ref().map(|stem| stem_forward(stem, frames)); // [B, γT, H', W', D]
        let mut previous: Option<Tensor<3>> = None; // Y^{l-1}
        let mut last_input: Option<Tensor<3>> = None; // Ŷ^l
        for (idx, tap) in taps.iter().enumerate() {
            if let Some(state) = z.take() {
                z = Some(self.temporal_nets[idx].forward(state)); // Z^l
            }
            if !config.integration {
                continue;
            }
            let fc = self.input_linears[idx].forward(tap.clone());
            let m = match previous.take() {
                Some(y) => add(fc, y),
                None => fc,
            }; // M = Y^{l-1} + FC(X^l)
            // Φ of the last layer only feeds a T-Block that does not exist: skip it.
            let z_hat = (config.has_phi() && idx + 1 < taps.len())
                .then(|| self.integration2temporal_nets[idx].forward(m.clone(), batch, config.gamma, grid));
            let y_hat = match (&z, config.has_psi()) {
                (Some(state), true) => add(m, self.temporal2integration_nets[idx].forward(state.clone(), config.gamma)),
                _ => m,
            }; // Ŷ^l = M + Ψ(Z^l), from Z^l before the exchange
            previous = Some(self.integration_nets[idx].forward(y_hat.clone(), batch)); // Y^l
            last_input = Some(y_hat);
            if let Some(update) = z_hat {
                z = z.map(|state| add(state, update)); // input of the next T-Block
            }
        }
        // F = Y^L + Ŷ^L, the only skip around the last I-Block (official code).
        let integrated = previous.zip(last_input).map(|(y, y_hat)| add(y, y_hat));
        let fused = match (&self.temporal_output, z) {
            (Some(psi), Some(state)) => Some(psi.forward(state, config.gamma)),
            _ => None,
        };
        match (integrated, fused) {
            (Some(f), Some(extra)) => Some(f + extra),
            (f, extra) => f.or(extra),
        }
    }

    /// Pools F into one token per video.
    ///
    /// # Shapes
    /// - tokens: `[B·T, N+1, A]` → `[B, A]`
    fn pool(&self, tokens: Tensor<3>, batch: usize) -> Tensor<2> {
        let [bt, l, a] = tokens.dims();
        if let Some(weights) = &self.pooling_weights {
            let per_place = tokens.reshape([batch, bt / batch, l, a]).mean_dim(1).reshape([batch, l, a]);
            return (per_place * weights.val().unsqueeze_dim::<3>(0)).sum_dim(1).reshape([batch, a]);
        }
        match (&self.aggregated_cls_token, &self.aggregated_spatial_cls_token) {
            (Some(video_query), Some(frame_query)) => {
                let mut video = video_query.val().expand([batch, 1, a]);
                let mut frames = frame_query.val().expand([bt, 1, a]);
                for layer in &self.adapooling_nets {
                    (video, frames) = layer.forward(tokens.clone(), video, frames);
                }
                video.reshape([batch, a])
            }
            _ => tokens.reshape([batch, (bt / batch) * l, a]).mean_dim(1).reshape([batch, a]),
        }
    }

    fn check_inputs(&self, taps: &[Tensor<3>], frames: &Tensor<5>) -> Result<Geometry> {
        let config = &self.config;
        let expected_layers = config.selected_layers()?.len();
        if taps.len() != expected_layers {
            return Err(Error::input(
                "taps",
                &[taps.len()],
                format!("{expected_layers} tensors, one per selected layer"),
            ));
        }
        let [bt, l, c] = taps[0].dims();
        if c != config.width || bt == 0 || bt % config.frames != 0 || l < 2 {
            return Err(Error::input(
                "taps[0]",
                &[bt, l, c],
                format!("[B*T, N+1, {}] with T = {}", config.width, config.frames),
            ));
        }
        for (i, tap) in taps.iter().enumerate() {
            if tap.dims() != [bt, l, c] {
                return Err(Error::input(format!("taps[{i}]"), &tap.dims(), format!("{:?} like taps[0]", [bt, l, c])));
            }
        }
        let batch = bt / config.frames;
        let n = l - 1;
        if config.has_tokens() && config.pooling == PoolingKind::Weighted && n != config.patches {
            return Err(Error::input(
                "taps[0]",
                &[bt, l, c],
                format!("{} + 1 tokens per frame (pooling = \"weighted\" was built for patches = {})", config.patches, config.patches),
            ));
        }
        if !config.has_temporal() {
            let side = (n as f64).sqrt().round() as usize;
            return Ok(Geometry { batch, grid: [side, n / side.max(1)] });
        }
        let dims = frames.dims();
        let [fb, ch, td, h, w] = dims;
        let p = config.patch_size;
        let expected = format!("[{batch}, 3, {}, H, W] with H/{p} * W/{p} = {n} patches", config.dense_frames());
        if fb != batch || ch != 3 || td != config.dense_frames() || h % p != 0 || w % p != 0 || (h / p) * (w / p) != n {
            return Err(Error::input("frames", &dims, expected));
        }
        Ok(Geometry { batch, grid: [h / p, w / p] })
    }
}
