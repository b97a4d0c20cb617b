//! Data parallelism over the devices of one machine (`[train] devices = N`, `--devices N`).
//!
//! Each step's batch is cut into one shard per device. Every device runs a replica of the model
//! (forked from the main copy) forward and backward on its shard, in its own thread; each shard's
//! loss is weighted by its share of the batch, so the gradients summed on the main device are the
//! whole batch's gradient. One AdamW step then updates the main copy, which the replicas fork
//! again at the next step. This is burn-train's `MultiDevice` strategy with the optimiser on the
//! main device, written for this trainer's loop (Mixup/CutMix and the targets are drawn on the
//! whole batch before it is cut, so the run follows the same recipe whatever N).
//!
//! On the CPU the replicas are the CPU's cores cut into groups: each replica runs in a rayon pool
//! of its own with its share of the threads, so its kernels split their work over that share
//! only. One replica's one-thread passes (autodiff's bookkeeping and gradient sums, burn's small
//! ops) and the ends of its split products, where a core would wait, are filled by the other
//! replica's work: on the 2-core build VM two one-thread replicas made the cached ViT-B/16 step
//! ~10% faster than one replica on both threads (docs/benchmarks.md, issue 8).

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, ElementConversion, Tensor};

use super::data::Batch;
use super::network::Network;
use crate::model::{soft_target_cross_entropy, ContrastiveHead};

/// The devices a step is spread over; the first is the main one (optimiser, checkpoints).
pub struct Replicas {
    /// Autodiff devices, one per replica.
    devices: Vec<Device>,
    /// The class-text head on each device (contrastive head only).
    heads: Vec<Option<ContrastiveHead>>,
    /// CPU replicas: a rayon pool each with its share of the threads (`None` elsewhere, and for
    /// a single replica, which keeps the global pool).
    pools: Vec<Option<rayon::ThreadPool>>,
}

impl Replicas {
    /// `devices` are autodiff devices, the main one first; `head` lives on the main device.
    /// `cpu`: the devices are handles of the one CPU, whose rayon threads are then shared out.
    ///
    /// # Errors
    /// When a replica's thread pool cannot be started.
    pub fn new(devices: Vec<Device>, head: Option<&ContrastiveHead>, cpu: bool) -> anyhow::Result<Self> {
        anyhow::ensure!(!devices.is_empty(), "at least one device");
        let heads = devices.iter().map(|d| head.map(|h| h.to_device(d))).collect();
        let n = devices.len();
        let pools = if cpu && n > 1 {
            shard_sizes(rayon::current_num_threads().max(n), n)
                .into_iter()
                .enumerate()
                .map(|(i, threads)| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(move |t| format!("replica-{i}-{t}"))
                        .build()?;
                    Ok(Some(pool))
                })
                .collect::<anyhow::Result<_>>()?
        } else {
            devices.iter().map(|_| None).collect()
        };
        Ok(Self { devices, heads, pools })
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Forward and backward of one batch (already mixed; `targets` `[B, K]` its soft targets on
    /// the main device): the batch's mean loss and its gradients on the main device.
    pub fn loss_and_grads(&self, model: &Network, batch: Batch, targets: Tensor<2>) -> anyhow::Result<(f64, GradientsParams)> {
        let b = batch.labels.len();
        let shards = shard_sizes(b, self.devices.len());
        let t = batch.taps.first().map_or(1, |x| x.dims()[0] / b.max(1));
        let main = &self.devices[0];
        let results: Vec<anyhow::Result<(f64, GradientsParams)>> = std::thread::scope(|scope| {
            let mut start = 0;
            let handles: Vec<_> = shards
                .iter()
                .zip(&self.devices)
                .zip(&self.heads)
                .zip(&self.pools)
                .map(|(((&n, device), head), pool)| {
                    let taps: Vec<Tensor<3>> = batch.taps.iter().map(|x| x.clone().narrow(0, start * t, n * t).to_device(device)).collect();
                    let frames = batch.frames.clone().narrow(0, start, n).to_device(device);
                    let targets = targets.clone().narrow(0, start, n).to_device(device);
                    start += n;
                    let replica = model.clone().fork(device);
                    let weight = n as f64 / b as f64;
                    // A lone shard (a batch of one clip) keeps every thread.
                    let pool = pool.as_ref().filter(|_| shards.len() > 1);
                    scope.spawn(move || {
                        let work = || shard_step(&replica, head.as_ref(), &taps, frames, targets, weight, main);
                        match pool {
                            Some(pool) => pool.install(work),
                            None => work(),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a replica panicked")))).collect()
        });
        let mut loss = 0.0;
        let mut sum = GradientsAccumulator::<Network>::new();
        for result in results {
            let (value, grads) = result?;
            loss += value;
            sum.accumulate(model, grads);
        }
        Ok((loss, sum.grads()))
    }
}

/// One replica's forward and backward on its shard, its loss weighted by the shard's share of the
/// batch: the weighted loss and its gradients, moved to the `main` device.
fn shard_step(
    replica: &Network,
    head: Option<&ContrastiveHead>,
    taps: &[Tensor<3>],
    frames: Tensor<5>,
    targets: Tensor<2>,
    weight: f64,
    main: &Device,
) -> anyhow::Result<(f64, GradientsParams)> {
    let logits = replica.logits(replica.dist.forward(taps, frames)?, head)?;
    let loss = soft_target_cross_entropy(logits, targets) * weight;
    let value: f64 = loss.clone().into_scalar::<f32>().elem();
    let grads = GradientsParams::from_grads(loss.backward(), replica).to_device(main, replica);
    Ok((value, grads))
}

/// `n` shards of a batch of `b` as even as possible (the first `b mod n` one larger), none empty.
fn shard_sizes(b: usize, n: usize) -> Vec<usize> {
    let n = n.min(b).max(1);
    (0..n).map(|i| b / n + usize::from(i < b % n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch() {
        assert_eq!(shard_sizes(8, 2), vec![4, 4]);
        assert_eq!(shard_sizes(7, 3), vec![3, 2, 2]);
        assert_eq!(shard_sizes(2, 4), vec![1, 1], "never an empty shard");
        assert_eq!(shard_sizes(5, 1), vec![5]);
    }
}
