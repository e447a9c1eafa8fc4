//! Storage: views share buffers; the buffer pool hands back zeroed memory.

use coin::tensor::recycler as pool;
use coin::{ops, DType, Device, Tensor};

#[test]
fn pooled_buffers_come_back_zeroed_and_sized() {
    let n = 1 << 16;
    let dirty: Vec<f32> = vec![7.0; n];
    pool::recycle(dirty);
    let z = pool::zeroed(n - 5);
    assert_eq!(z.len(), n - 5);
    assert!(
        z.iter().all(|&v| v == 0.0),
        "a reused buffer must be zero-filled"
    );
    let o = pool::overwritten(n);
    assert_eq!(o.len(), n);
    // Tensors that die return their storage; the pool never grows past its cap.
    for _ in 0..4 {
        let t = Tensor::zeros([n], DType::F32, Device::Cpu);
        drop(ops::relu(&t).unwrap());
    }
    assert!(pool::max_bytes() <= 4 << 30);
    assert!(pool::pooled_bytes() <= pool::max_bytes());
}

#[test]
fn reshape_and_outer_narrow_are_views() {
    let t = Tensor::from_f32((0..24).map(|v| v as f32).collect(), [4, 3, 2], Device::Cpu).unwrap();
    let r = ops::reshape(&t, &[6, 4]).unwrap();
    assert_eq!(r.to_vec_f32(), t.to_vec_f32());
    let n = ops::narrow(&t, 0, 1, 2).unwrap();
    assert_eq!(n.dims(), &[2, 3, 2]);
    assert_eq!(
        n.to_vec_f32(),
        (6..18).map(|v| v as f32).collect::<Vec<_>>()
    );
    let inner = ops::narrow(&t, 2, 1, 1).unwrap();
    assert_eq!(
        inner.to_vec_f32(),
        (0..12).map(|v| (2 * v + 1) as f32).collect::<Vec<_>>()
    );
}
