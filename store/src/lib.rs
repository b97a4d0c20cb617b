//! The feature store.
