//! The text tower: token + position embeddings, causal residual blocks, final LayerNorm at the
//! end-of-text token, projection (transformers' `CLIPTextTransformer`, OpenAI's `encode_text`).

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::config::TextConfig;
use crate::error::{ClipError, Result};
use crate::layers::{upload, BlockConfig, LayerNorm, ResidualBlock};
use crate::tokenizer::Tokenizer;
use crate::weights::TextWeights;

/// Texts encoded per forward pass by [`TextTower::encode_texts`] (bounds the activations' memory).
const TEXT_BATCH: usize = 256;

/// The frozen CLIP text transformer.
#[derive(Debug, Clone)]
pub struct TextTower {
    config: TextConfig,
    device: Device,
    dtype: DType,
    /// `[V, C]`.
    token_embedding: Tensor<2>,
    /// `[context, C]`.
    positions: Tensor<2>,
    blocks: Vec<ResidualBlock>,
    ln_final: LayerNorm,
    /// `[C, E]`.
    projection: Tensor<2>,
}

impl TextTower {
    pub(crate) fn new(config: TextConfig, w: &TextWeights, device: &Device, dtype: DType) -> Self {
        let block = BlockConfig {
            heads: config.heads,
            activation: config.activation,
            eps: config.layer_norm_eps,
            causal: true,
        };
        Self {
            device: device.clone(),
            dtype,
            token_embedding: upload(&w.token_embedding, device, dtype),
            positions: upload(&w.positions, device, dtype),
            blocks: w
                .blocks
                .iter()
                .map(|b| ResidualBlock::new(b, block, device, dtype))
                .collect(),
            ln_final: LayerNorm::new(&w.ln_final, config.layer_norm_eps, device, dtype),
            projection: upload(&w.projection, device, dtype),
            config,
        }
    }

    /// The architecture.
    #[must_use]
    pub fn config(&self) -> &TextConfig {
        &self.config
    }

    /// Embeds token-id rows (as [`Tokenizer::tokenize`] makes them: SOT, tokens, EOT, padding).
    ///
    /// Each row is pooled at its first end-of-text id (the largest id of the row when it has none, as
    /// OpenAI's `argmax`). Because attention is causal, positions after the last EOT of the batch cannot
    /// change the pooled tokens, so they are not computed.
    ///
    /// # Shapes
    /// - ids: `n` rows of at most `context_length` ids
    /// - output: `[n, E]` f32, not normalised
    ///
    /// # Errors
    /// [`ClipError::InvalidInput`] for an empty batch, a row longer than the context or an id outside
    /// the vocabulary.
    pub fn encode_ids(&self, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
        let embeds = self.pool_ids(ids)?.matmul(self.projection.clone()); // [n, E]
        Ok(if self.dtype == DType::F32 {
            embeds
        } else {
            embeds.cast(DType::F32)
        })
    }

    /// The final-LayerNorm features at each row's end-of-text token, before the projection.
    ///
    /// # Shapes
    /// - ids: as in [`Self::encode_ids`]; output `[n, C]` in the tower's dtype
    fn pool_ids(&self, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
        let n = ids.len();
        if n == 0 {
            return Err(ClipError::InvalidInput("no token rows to encode".into()));
        }
        let vocab = self.config.vocab_size;
        let mut pool_at = Vec::with_capacity(n);
        for (r, row) in ids.iter().enumerate() {
            if row.is_empty() || row.len() > self.config.context_length {
                return Err(ClipError::InvalidInput(format!(
                    "token row {r} has {} ids; expected 1..={}",
                    row.len(),
                    self.config.context_length
                )));
            }
            if let Some(bad) = row.iter().find(|&&id| id < 0 || id as u64 >= vocab as u64) {
                return Err(ClipError::InvalidInput(format!(
                    "token row {r} has id {bad} outside vocab 0..{vocab}"
                )));
            }
            pool_at.push(pool_position(row, self.config.eot_token_id));
        }
        let len = pool_at.iter().max().map_or(1, |p| p + 1);
        let c = self.config.width;
        let flat: Vec<i64> = ids
            .iter()
            .flat_map(|row| (0..len).map(move |i| row.get(i).copied().unwrap_or(0)))
            .collect();
        let flat = Tensor::<1, Int>::from_data(TensorData::new(flat, [n * len]), &self.device);
        let mut x = self.token_embedding.clone().select(0, flat).reshape([n, len, c]) // [n, len, C]
            + self.positions.clone().narrow(0, 0, len).unsqueeze_dim::<3>(0);
        for block in &self.blocks {
            x = block.forward(x);
        }
        // LayerNorm is per token, so pooling first and normalising the n pooled rows is the same.
        let rows: Vec<i64> = pool_at
            .iter()
            .enumerate()
            .map(|(b, &p)| i64::try_from(b * len + p).unwrap_or(0))
            .collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &self.device);
        Ok(self.ln_final.forward(x.reshape([n * len, c]).select(0, rows))) // [n, C]
    }

    /// Tokenizes texts and returns their pooled features before the projection, so that a
    /// caller can train a projection of its own (`pretrain_vision` does).
    ///
    /// # Shapes
    /// - output: `[texts.len(), C]` f32
    ///
    /// # Errors
    /// As [`Self::encode_ids`].
    pub fn pooled_texts(&self, texts: &[&str]) -> Result<Tensor<2>> {
        let tokenizer = Tokenizer::shared()?;
        let ids: Vec<Vec<i64>> = texts.iter().map(|t| tokenizer.tokenize(t, self.config.context_length)).collect();
        let pooled = self.pool_ids(&ids)?;
        Ok(if self.dtype == DType::F32 { pooled } else { pooled.cast(DType::F32) })
    }

    /// The projection, `[C, E]`.
    #[must_use]
    pub fn projection(&self) -> Tensor<2> {
        self.projection.clone()
    }

    /// Tokenizes and embeds texts, in batches of 256.
    ///
    /// # Shapes
    /// - output: `[texts.len(), E]` f32, not normalised
    ///
    /// # Errors
    /// As [`Self::encode_ids`].
    pub fn encode_texts(&self, texts: &[&str]) -> Result<Tensor<2>> {
        let tokenizer = Tokenizer::shared()?;
        let chunks = texts
            .chunks(TEXT_BATCH)
            .map(|chunk| {
                let ids: Vec<Vec<i64>> = chunk
                    .iter()
                    .map(|t| tokenizer.tokenize(t, self.config.context_length))
                    .collect();
                self.encode_ids(&ids)
            })
            .collect::<Result<Vec<_>>>()?;
        if chunks.is_empty() {
            return Err(ClipError::InvalidInput("no texts to encode".into()));
        }
        Ok(Tensor::cat(chunks, 0))
    }
}

/// Index of the first end-of-text id, or of the first largest id when the row has none.
fn pool_position(row: &[i64], eot: usize) -> usize {
    let eot = i64::try_from(eot).unwrap_or(i64::MAX);
    row.iter().position(|&id| id == eot).unwrap_or_else(|| {
        let max = row.iter().copied().max().unwrap_or(0);
        row.iter().position(|&id| id == max).unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::pool_position;

    #[test]
    fn pools_at_first_eot_or_first_max() {
        assert_eq!(pool_position(&[49406, 320, 49407, 49407, 49407], 49407), 2);
        assert_eq!(pool_position(&[998, 5, 999, 0, 0], 999), 2);
        assert_eq!(pool_position(&[7, 9, 3, 9], 49407), 1);
    }
}
