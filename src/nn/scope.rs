//! Named scopes over a parameter group, as PyTorch's module paths: `g.scope("layer1")
//! .scope("0").scope("conv1")` registers `layer1.0.conv1.weight`. A module constructor takes a
//! scope and registers every parameter and buffer it owns through it, so a group always lists
//! the complete `state_dict` of what was built on it.

use super::{BufferHandle, Param, ParamGroup};
use crate::{Device, Result, Shape, Tensor};

/// A dotted prefix over a mutably borrowed group.
pub struct Scope<'g> {
    group: &'g mut ParamGroup,
    prefix: String,
}

impl<'g> Scope<'g> {
    pub(crate) fn new(group: &'g mut ParamGroup, prefix: &str) -> Scope<'g> {
        Scope {
            group,
            prefix: prefix.to_string(),
        }
    }
    /// A child scope `{prefix}.{name}` (or `name` at the root).
    pub fn scope(&mut self, name: impl std::fmt::Display) -> Scope<'_> {
        let prefix = self.full(&name.to_string());
        Scope {
            group: self.group,
            prefix,
        }
    }
    /// The full dotted name of `leaf` in this scope.
    pub fn full(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_string()
        } else if leaf.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn device(&self) -> Device {
        self.group.device()
    }
    /// Registers a trainable parameter `{prefix}.{leaf}`.
    pub fn param(&mut self, leaf: &str, shape: impl Into<Shape>, init: Vec<f32>) -> Result<Param> {
        let name = self.full(leaf);
        self.group.add(&name, shape, init)
    }
    /// Registers a buffer `{prefix}.{leaf}` with its initial value (moved to the group's device).
    pub fn buffer(&mut self, leaf: &str, value: Tensor) -> Result<BufferHandle> {
        let name = self.full(leaf);
        self.group.add_buffer(&name, value)
    }
}
