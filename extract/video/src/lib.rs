//! Video ingestion.
