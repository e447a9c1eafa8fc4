//! Batches of slices, prepared ahead on background threads.
//!
//! A `SliceSource` turns a sample index (and a random stream) into an image, its masks and its
//! label; the loader orders each epoch (a shuffle or class-balanced draws, keyed by
//! (seed, epoch)), gives sample position p of the epoch the stream (seed, epoch, p), builds
//! batch b on worker b mod W, and hands batches out in order. So the batches are the same for
//! any number of workers and a resumed run sees the same ones; workers stay at most `prefetch`
//! batches ahead, and stop when the epoch iterator is dropped.

use super::augment::{balanced_order, epoch_order};
use crate::rng::Rng;
use crate::{Device, Error, Result, Tensor};
use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

/// One sample: an image (rows × cols, in [−1, 1]), its masks, its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub image: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub masks: Vec<Vec<u8>>,
    pub label: u8,
    /// The image before any synthetic tumour (same size and transforms), when the source has it.
    pub clean: Option<Vec<f32>>,
}

/// Where samples come from (a slice dataset, the phantom, …).
pub trait SliceSource: Send + Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The sample at `index`, drawing any randomness (augmentation, synthetic tumours) from `rng`.
    fn item(&self, index: usize, rng: &mut Rng) -> Result<Item>;
    /// Labels of every sample, for class-balanced sampling (None: not known up front).
    fn labels(&self) -> Option<Vec<u8>> {
        None
    }
    /// The patient (case) sample `index` comes from, when the source knows it.
    fn patient(&self, _index: usize) -> Option<String> {
        None
    }
}

/// A batch: images N×1×H×W, labels N×1 (f32), the masks and the source indices.
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
    pub masks: Vec<Vec<Vec<u8>>>,
    pub indices: Vec<usize>,
    /// The clean images N×1×H×W, when every item has one.
    pub clean: Option<Tensor>,
}

#[derive(Clone, Copy, Debug)]
pub struct LoaderConfig {
    pub batch: usize,
    pub seed: u64,
    pub balanced: bool,
    pub drop_last: bool,
    pub workers: usize,
    pub prefetch: usize,
    pub device: Device,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch: 16,
            seed: 42,
            balanced: false,
            drop_last: false,
            workers: 2,
            prefetch: 4,
            device: Device::Cpu,
        }
    }
}

pub struct Loader {
    source: Arc<dyn SliceSource>,
    cfg: LoaderConfig,
}

fn build(
    source: &dyn SliceSource,
    cfg: &LoaderConfig,
    epoch: u64,
    first: usize,
    idx: &[usize],
) -> Result<Batch> {
    let mut items = Vec::with_capacity(idx.len());
    for (k, &i) in idx.iter().enumerate() {
        let mut rng = Rng::keyed(cfg.seed, &[epoch, (first + k) as u64]);
        items.push(source.item(i, &mut rng)?);
    }
    let (rows, cols) = (items[0].rows, items[0].cols);
    if let Some(bad) = items
        .iter()
        .find(|it| (it.rows, it.cols) != (rows, cols) || it.image.len() != rows * cols)
    {
        return Err(Error::Shape(format!(
            "loader: sample sizes differ in one batch ({rows}×{cols} vs {}×{} with {} values)",
            bad.rows,
            bad.cols,
            bad.image.len()
        )));
    }
    let n = items.len();
    let mut px = Vec::with_capacity(n * rows * cols);
    items.iter().for_each(|it| px.extend_from_slice(&it.image));
    let labels: Vec<f32> = items.iter().map(|it| it.label as f32).collect();
    let clean = if items
        .iter()
        .all(|it| it.clean.as_ref().is_some_and(|c| c.len() == rows * cols))
    {
        let mut c = Vec::with_capacity(n * rows * cols);
        items
            .iter()
            .for_each(|it| c.extend_from_slice(it.clean.as_deref().unwrap_or_default()));
        Some(Tensor::from_f32(c, [n, 1, rows, cols], cfg.device)?)
    } else {
        None
    };
    Ok(Batch {
        clean,
        images: Tensor::from_f32(px, [n, 1, rows, cols], cfg.device)?,
        labels: Tensor::from_f32(labels, [n, 1], cfg.device)?,
        masks: items.into_iter().map(|it| it.masks).collect(),
        indices: idx.to_vec(),
    })
}

impl Loader {
    pub fn new(source: Arc<dyn SliceSource>, cfg: LoaderConfig) -> Result<Loader> {
        if cfg.batch == 0 || cfg.workers == 0 || cfg.prefetch == 0 {
            return Err(Error::Invalid(format!(
                "loader: batch, workers and prefetch must be positive, got {cfg:?}"
            )));
        }
        if source.is_empty() {
            return Err(Error::Invalid("loader: the source has no samples".into()));
        }
        if cfg.balanced && source.labels().is_none() {
            return Err(Error::Invalid(
                "loader: class-balanced sampling needs the source's labels".into(),
            ));
        }
        Ok(Loader { source, cfg })
    }

    /// The patient sample `index` comes from, when the source knows it.
    pub fn patient(&self, index: usize) -> Option<String> {
        self.source.patient(index)
    }

    /// The sample order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        match (self.cfg.balanced, self.source.labels()) {
            (true, Some(l)) => balanced_order(&l, self.cfg.seed, epoch),
            _ => epoch_order(self.source.len(), self.cfg.seed, epoch),
        }
    }

    /// The batches of `epoch`, built ahead on the worker threads.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        let order = self.order(epoch);
        let b = self.cfg.batch;
        let n_batches = if self.cfg.drop_last {
            order.len() / b
        } else {
            order.len().div_ceil(b)
        };
        let order = Arc::new(order);
        let mut receivers = Vec::new();
        for w in 0..self.cfg.workers.min(n_batches.max(1)) {
            let (tx, rx) = sync_channel(self.cfg.prefetch);
            let (src, cfg, order) = (self.source.clone(), self.cfg, order.clone());
            std::thread::spawn(move || {
                let mut k = w;
                while k < n_batches {
                    let idx = &order[k * b..((k + 1) * b).min(order.len())];
                    let batch = build(src.as_ref(), &cfg, epoch, k * b, idx);
                    if tx.send((k, batch)).is_err() {
                        return; // the epoch was dropped
                    }
                    k += cfg.workers;
                }
            });
            receivers.push(rx);
        }
        Epoch {
            receivers,
            next: 0,
            n_batches,
            pending: BTreeMap::new(),
        }
    }
}

/// An epoch's batches, in order.
pub struct Epoch {
    receivers: Vec<Receiver<(usize, Result<Batch>)>>,
    next: usize,
    n_batches: usize,
    pending: BTreeMap<usize, Result<Batch>>,
}

impl Iterator for Epoch {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Result<Batch>> {
        if self.next >= self.n_batches {
            return None;
        }
        let k = self.next;
        let w = k % self.receivers.len();
        while !self.pending.contains_key(&k) {
            match self.receivers[w].recv() {
                Ok((i, b)) => {
                    self.pending.insert(i, b);
                }
                Err(_) => {
                    return Some(Err(Error::Invalid(format!(
                        "loader: worker {w} stopped before batch {k}"
                    ))))
                }
            }
        }
        self.next += 1;
        self.pending.remove(&k)
    }
}
