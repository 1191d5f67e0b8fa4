//! The placement solver (to be written).

pub mod simulate;
