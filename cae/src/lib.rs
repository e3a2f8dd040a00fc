//! `cae`: nn layers, the ViT and CAE models, masking, targets, optimisers, the trainer and the `cae`
//! program. Built by the model and training issues; empty until then.
