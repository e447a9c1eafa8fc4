//! Tensors: a shape, an element type, a device tag and a view into shared contiguous storage.

mod dtype;
pub mod recycler;
mod shape;
mod storage;
#[allow(clippy::module_inception)]
mod tensor;

pub use dtype::{DType, Device};
pub use shape::Shape;
pub use storage::Buffer;
pub(crate) use storage::SharedBuffer;
pub use tensor::{Tensor, TensorId};
