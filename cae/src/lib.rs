//! `cae`: nn layers, the ViT and CAE models, masking, targets, optimisers, the trainer and the `cae`
//! program. So far: the mask generators (`masking`) and the sin-cos position embeddings (`pos_embed`); the rest comes with the model and training
//! issues.

pub mod masking;
pub mod nn;
pub mod pos_embed;
