//! Filled in below once the PyTorch fixtures exist.
