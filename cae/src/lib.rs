//! `cae`: nn layers, the ViT and CAE models, masking, targets, optimisers, the trainer and the `cae`
//! program. So far: the mask generators (`masking`); the rest comes with the model and training
//! issues.

pub mod masking;
