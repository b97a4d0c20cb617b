//! dist-extract library.
