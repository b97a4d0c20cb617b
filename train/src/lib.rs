//! dist-train library.
