//! CLIP towers.
