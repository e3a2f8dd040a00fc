//! `ParamStore`: the model's parameters by name, in a fixed order, with names that follow the
//! official CAE state dict (`encoder.blocks.0.attn.qkv.weight`) so checkpoints map one to one.

use tensor::Tensor;

use crate::Param;

/// Named parameters in insertion order (the order optimisers and checkpoints iterate in).
#[derive(Default, Clone)]
pub struct ParamStore {
    entries: Vec<(String, Param)>,
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a parameter under a new name and return a handle to it.
    pub fn insert(&mut self, name: impl Into<String>, value: Tensor) -> Param {
        let name = name.into();
        assert!(self.get(&name).is_none(), "parameter {name:?} is already in the store");
        let p = Param::new(value);
        self.entries.push((name, p.clone()));
        p
    }

    /// The parameter stored under `name` (a linear scan: stores hold a few hundred).
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// (name, parameter) pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Param)> {
        self.entries.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// Number of parameters (tensors, not scalars: see `num_elements`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no parameter has been inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn num_elements(&self) -> usize {
        self.entries.iter().map(|(_, p)| p.numel()).sum()
    }

    /// Forget every accumulated gradient (start of a new optimiser step).
    pub fn zero_grad(&self) {
        self.entries.iter().for_each(|(_, p)| p.zero_grad());
    }
}
