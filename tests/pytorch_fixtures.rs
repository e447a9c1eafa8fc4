//! Layer 3: PyTorch golden fixtures (see tests/fixtures/README.md).
