//! Integration tests of the DiST model through the public API (one test binary).

mod model {
    pub mod common;
    mod checkpoint;
    mod gradients;
    mod param_counts;
    mod parity;
    mod presets;
    mod shapes;
}
