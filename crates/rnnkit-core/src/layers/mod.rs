//! Non-recurrent layers, forward and backward side by side in each file: embedding lookup,
//! linear (dense) layer, dropout, and pooling over the valid steps of a padded sequence.
//! Gradient rule as everywhere (lib.rs): parameter gradients +=, activation gradients =.

pub mod dropout;
pub mod embedding;
pub mod linear;
pub mod pool;
