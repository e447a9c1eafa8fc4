//! Modules, parameter groups and optimizers.
