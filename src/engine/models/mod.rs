//! One file per architecture family.

pub mod llama;
