//! Named non-trainable tensors (BatchNorm running statistics and `num_batches_tracked`, the
//! spectral-norm `u`): registered in a [`super::ParamGroup`] under a dotted name, held by the
//! module that updates them in its forward pass, and saved and loaded with the parameters.

use crate::{Error, Result, Tensor};
use std::sync::{Arc, Mutex};

/// A shared handle to one registered buffer; clones see the same value.
#[derive(Clone)]
pub struct BufferHandle {
    name: Arc<str>,
    cell: Arc<Mutex<Tensor>>,
}

impl BufferHandle {
    pub(crate) fn new(name: &str, value: Tensor) -> BufferHandle {
        BufferHandle {
            name: name.into(),
            cell: Arc::new(Mutex::new(value.detach())),
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The current value (shares storage; buffers are replaced, never written in place).
    pub fn get(&self) -> Tensor {
        self.cell.lock().expect("buffer lock").clone()
    }
    /// Replaces the value (moved to the buffer's device); the shape and dtype must stay the
    /// same.
    pub fn set(&self, value: Tensor) -> Result<()> {
        let mut g = self.cell.lock().expect("buffer lock");
        if value.shape() != g.shape() || value.dtype() != g.dtype() {
            return Err(Error::Shape(format!(
                "buffer {}: expected {} {}, got {} {}",
                self.name,
                g.dtype(),
                g.shape(),
                value.dtype(),
                value.shape()
            )));
        }
        // On the same device the value is kept as it is (ops never write into their outputs
        // afterwards); a copy there would be a device→host→device round trip on a GPU.
        *g = if value.device() == g.device() {
            value.detach()
        } else {
            value.detach().to_device(g.device())
        };
        Ok(())
    }
}
