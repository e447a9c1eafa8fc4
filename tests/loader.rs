//! The loader: the same batches whatever the number of workers, in order, reproducible per
//! (seed, epoch), errors passed on, and an epoch that can be dropped half-way.

use coin::data::loader::{Item, Loader, LoaderConfig, SliceSource};
use coin::rng::Rng;
use coin::{Error, Result};
use std::sync::Arc;

struct Toy {
    n: usize,
    fail_at: Option<usize>,
}

impl SliceSource for Toy {
    fn len(&self) -> usize {
        self.n
    }
    fn item(&self, index: usize, rng: &mut Rng) -> Result<Item> {
        if Some(index) == self.fail_at {
            return Err(Error::Invalid(format!("sample {index} is broken")));
        }
        let noise = rng.uniform() as f32;
        Ok(Item {
            image: vec![index as f32 + noise; 4],
            rows: 2,
            cols: 2,
            masks: vec![vec![1; 4]],
            label: index.is_multiple_of(5) as u8,
            clean: None,
        })
    }
    fn labels(&self) -> Option<Vec<u8>> {
        Some((0..self.n).map(|i| i.is_multiple_of(5) as u8).collect())
    }
}

fn all(loader: &Loader, epoch: u64) -> Vec<(Vec<usize>, Vec<f32>, Vec<f32>)> {
    loader
        .epoch(epoch)
        .map(|b| b.unwrap())
        .map(|b| (b.indices, b.images.to_vec_f32(), b.labels.to_vec_f32()))
        .collect()
}

#[test]
fn batches_do_not_depend_on_workers() {
    let src: Arc<dyn SliceSource> = Arc::new(Toy {
        n: 37,
        fail_at: None,
    });
    let one = Loader::new(
        src.clone(),
        LoaderConfig {
            batch: 5,
            workers: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let three = Loader::new(
        src.clone(),
        LoaderConfig {
            batch: 5,
            workers: 3,
            prefetch: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let a = all(&one, 2);
    assert_eq!(a.len(), 8, "37 samples in batches of 5, last one partial");
    assert_eq!(a, all(&three, 2));
    assert_ne!(a, all(&one, 3), "another epoch, another order");
    let order: Vec<usize> = a.iter().flat_map(|b| b.0.clone()).collect();
    assert_eq!(order, one.order(2));
    let dropped = Loader::new(
        src.clone(),
        LoaderConfig {
            batch: 5,
            drop_last: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(all(&dropped, 2).len(), 7);
    let b = one.epoch(0).next().unwrap().unwrap();
    assert_eq!(b.images.dims(), &[5, 1, 2, 2]);
    assert_eq!(b.masks.len(), 5);
}

#[test]
fn balanced_errors_and_early_drop() {
    let src: Arc<dyn SliceSource> = Arc::new(Toy {
        n: 100,
        fail_at: None,
    });
    let bal = Loader::new(
        src.clone(),
        LoaderConfig {
            batch: 10,
            balanced: true,
            ..Default::default()
        },
    )
    .unwrap();
    let pos: f32 = all(&bal, 0).iter().flat_map(|b| b.2.clone()).sum();
    assert!(
        (35.0..65.0).contains(&pos),
        "about half positives, got {pos}"
    );
    let broken: Arc<dyn SliceSource> = Arc::new(Toy {
        n: 20,
        fail_at: Some(7),
    });
    let l = Loader::new(
        broken,
        LoaderConfig {
            batch: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let errs: Vec<String> = l
        .epoch(0)
        .filter_map(|b| b.err().map(|e| e.to_string()))
        .collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("sample 7"));
    // Dropping an epoch half-way stops its workers (no hang).
    let mut e = bal.epoch(1);
    e.next().unwrap().unwrap();
    drop(e);
    assert!(Loader::new(
        src,
        LoaderConfig {
            batch: 0,
            ..Default::default()
        }
    )
    .is_err());
}
