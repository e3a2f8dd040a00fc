//! `Var`: a tensor value that the tape may track, and `Param`: a trainable leaf whose gradient
//! accumulates across backward passes.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use tensor::{DType, Shape, Tensor};

use crate::tape::{self, GradCell, NodeId};

/// A value in a differentiable computation: a tensor plus, when tracked, its node on the tape.
#[derive(Clone)]
pub struct Var {
    value: Tensor,
    node: Option<NodeId>,
}

impl Var {
    /// A value no gradient flows into (inputs, targets, masks).
    pub fn constant(value: Tensor) -> Var {
        Var { value, node: None }
    }

    pub(crate) fn tracked(value: Tensor, node: NodeId) -> Var {
        Var { value, node: Some(node) }
    }

    /// The tensor this variable holds.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The node on the tape, if tracked.
    pub fn node(&self) -> Option<NodeId> {
        self.node
    }

    /// Whether gradients flow through this value.
    pub fn is_tracked(&self) -> bool {
        self.node.is_some()
    }

    /// The same value, cut from the graph (no gradient flows back through the result).
    pub fn detach(&self) -> Var {
        Var::constant(self.value.clone())
    }

    /// The value's shape.
    pub fn shape(&self) -> &Shape {
        self.value.shape()
    }

    /// The value's sizes, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.value.dims()
    }

    /// Size of dim `axis` (negative counts from the end).
    pub fn dim(&self, axis: isize) -> usize {
        self.value.dim(axis)
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.value.rank()
    }

    /// The value's element type.
    pub fn dtype(&self) -> DType {
        self.value.dtype()
    }

    /// Back-propagate from this scalar into every parameter it depends on (see [`tape::backward`]).
    pub fn backward(&self) {
        tape::backward(self)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var({:?}, tracked: {})", self.value, self.is_tracked())
    }
}

/// A trainable tensor: its value (replaced by optimisers) and its accumulated gradient.
///
/// Cloning a `Param` gives another handle to the same parameter.
#[derive(Clone)]
pub struct Param {
    id: NodeId,
    value: Arc<RwLock<Tensor>>,
    grad: GradCell,
}

impl Param {
    /// A parameter with this initial value and no gradient, under a fresh node id.
    pub fn new(value: Tensor) -> Param {
        Param { id: tape::fresh_id(), value: Arc::new(RwLock::new(value)), grad: Arc::new(Mutex::new(None)) }
    }

    /// The parameter as a tracked variable for this forward pass (a constant under `no_grad`).
    pub fn var(&self) -> Var {
        let value = self.value();
        if !tape::is_recording() {
            return Var::constant(value);
        }
        tape::register_leaf(self.id, &self.grad);
        Var::tracked(value, self.id)
    }

    /// The current value.
    pub fn value(&self) -> Tensor {
        self.value.read().expect("parameter lock poisoned").clone()
    }

    /// Replace the value (optimiser step, checkpoint load). The shape must stay the same.
    pub fn set_value(&self, value: Tensor) {
        let mut slot = self.value.write().expect("parameter lock poisoned");
        assert_eq!(
            slot.shape(),
            value.shape(),
            "set_value: parameter has shape {:?}, new value {:?}",
            slot.shape(),
            value.shape()
        );
        *slot = value;
    }

    /// The gradient accumulated since the last `zero_grad`, if any backward pass reached this parameter.
    pub fn grad(&self) -> Option<Tensor> {
        self.grad.lock().expect("gradient lock poisoned").clone()
    }

    /// Forget the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.grad.lock().expect("gradient lock poisoned") = None;
    }

    /// The current value's shape (fixed: `set_value` keeps it).
    pub fn shape(&self) -> Shape {
        self.value.read().expect("parameter lock poisoned").shape().clone()
    }

    /// Number of scalars in the parameter.
    pub fn numel(&self) -> usize {
        self.shape().numel()
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Param({:?})", self.value())
    }
}
