//! The tape: a thread-local list of the ops applied to tracked values, in the order they ran, and
//! the backward pass that walks it in reverse.
//!
//! Each entry holds the id of the value it produced, the ids of its inputs, and a closure that turns
//! the gradient of the output into gradients of the inputs. The closure owns whatever the backward
//! pass needs from the forward (saved inputs, outputs, statistics); calling it consumes it, so those
//! buffers are freed the moment that entry has been processed. `backward` takes the whole tape, so
//! the tape is empty (and every saved buffer gone) when it returns.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tensor::Tensor;

use crate::Var;

/// Identifies one tracked value (an op's output or a parameter).
pub type NodeId = u64;

/// Where a parameter's gradient accumulates across backward passes.
pub(crate) type GradCell = Arc<Mutex<Option<Tensor>>>;

/// Turns the gradient of an op's output into one gradient per input (`None`: no gradient flows there).
pub(crate) type BackwardFn = Box<dyn FnOnce(&Tensor) -> Vec<Option<Tensor>>>;

struct Entry {
    output: NodeId,
    inputs: Vec<Option<NodeId>>,
    backward: BackwardFn,
}

#[derive(Default)]
struct Tape {
    entries: Vec<Entry>,
    /// Parameters read while recording, by id, with the cell their gradient goes to.
    leaves: HashMap<NodeId, GradCell>,
}

thread_local! {
    static TAPE: RefCell<Tape> = RefCell::new(Tape::default());
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn fresh_id() -> NodeId {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// True while inside `no_grad` on this thread: ops then record nothing.
pub fn is_recording() -> bool {
    NO_GRAD_DEPTH.with(Cell::get) == 0
}

/// Runs `f` without recording: values it computes are constants (no gradient flows through them).
/// Used for the alignment branch of CAE and for evaluation.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}

/// Number of entries currently on this thread's tape (for tests and diagnostics).
pub fn tape_len() -> usize {
    TAPE.with(|t| t.borrow().entries.len())
}

/// Forget everything recorded on this thread without running a backward pass.
pub fn clear_tape() {
    TAPE.with(|t| *t.borrow_mut() = Tape::default());
}

pub(crate) fn register_leaf(id: NodeId, cell: &GradCell) {
    TAPE.with(|t| {
        t.borrow_mut().leaves.entry(id).or_insert_with(|| cell.clone());
    });
}

/// Wrap an op's output: record it when any input is tracked (and we are recording), else a constant.
pub(crate) fn record(
    value: Tensor,
    inputs: &[&Var],
    backward: impl FnOnce(&Tensor) -> Vec<Option<Tensor>> + 'static,
) -> Var {
    let ids: Vec<Option<NodeId>> = inputs.iter().map(|v| v.node()).collect();
    if !is_recording() || ids.iter().all(Option::is_none) {
        return Var::constant(value);
    }
    let output = fresh_id();
    TAPE.with(|t| t.borrow_mut().entries.push(Entry { output, inputs: ids, backward: Box::new(backward) }));
    Var::tracked(value, output)
}

fn accumulate(grads: &mut HashMap<NodeId, Tensor>, id: NodeId, g: Tensor) {
    match grads.remove(&id) {
        Some(old) => grads.insert(id, &old + &g),
        None => grads.insert(id, g),
    };
}

/// Back-propagate from a scalar: add d`loss`/d`p` into the gradient of every parameter `p` the loss
/// depends on, then release the tape.
pub fn backward(loss: &Var) {
    let tape = TAPE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    assert_eq!(loss.value().numel(), 1, "backward needs a scalar loss, got shape {:?}", loss.value().shape());
    let Some(root) = loss.node() else {
        panic!("backward: the loss does not depend on any parameter (was it computed under no_grad?)");
    };
    let mut grads = HashMap::new();
    grads.insert(root, loss.value().ones_like());
    for entry in tape.entries.into_iter().rev() {
        // An entry off the loss's path has no gradient: dropping it frees what it saved.
        let Some(g) = grads.remove(&entry.output) else { continue };
        let input_grads = (entry.backward)(&g);
        debug_assert_eq!(input_grads.len(), entry.inputs.len(), "a backward returned the wrong number of gradients");
        for (input, grad) in entry.inputs.into_iter().zip(input_grads) {
            if let (Some(id), Some(grad)) = (input, grad) {
                accumulate(&mut grads, id, grad);
            }
        }
    }
    for (id, cell) in tape.leaves {
        if let Some(g) = grads.remove(&id) {
            let mut slot = cell.lock().expect("gradient cell poisoned");
            *slot = Some(match slot.take() {
                Some(old) => &old + &g,
                None => g.contiguous(),
            });
        }
    }
}
