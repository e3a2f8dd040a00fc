//! The tape: a thread-local list of the ops applied to tracked values, in the order they ran, and
//! the backward pass that walks it in reverse.
//!
//! Each entry holds the ids of the values it produced (one for most ops, several for `split`), the
//! ids of its inputs, and a closure that turns the gradients of the outputs into gradients of the
//! inputs. The closure owns whatever the backward
//! pass needs from the forward (saved inputs, outputs, statistics); calling it consumes it, so those
//! buffers are freed the moment that entry has been processed. `backward` takes the whole tape, so
//! the tape is empty (and every saved buffer gone) when it returns.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tensor::Tensor;

use crate::Var;

/// Identifies one tracked value (an op's output or a parameter).
pub type NodeId = u64;

/// Where a parameter's gradient accumulates across backward passes.
pub(crate) type GradCell = Arc<Mutex<Option<Tensor>>>;

/// Turns the gradients of an op's outputs (`None` for an output the loss does not use) into one
/// gradient per input (`None`: no gradient flows there).
type BackwardFn = Box<dyn FnOnce(&[Option<Tensor>]) -> Vec<Option<Tensor>>>;

struct Entry {
    outputs: Vec<NodeId>,
    inputs: Vec<Option<NodeId>>,
    backward: BackwardFn,
}

#[derive(Default)]
struct Tape {
    entries: Vec<Entry>,
    /// Every id an entry of this tape produced: an op's tracked input must be one of these or a leaf.
    outputs: HashSet<NodeId>,
    /// Parameters read while recording, by id, with the cell their gradient goes to.
    leaves: HashMap<NodeId, GradCell>,
}

impl Tape {
    /// Whether `id` was recorded on this tape (as an op's output or a parameter read).
    fn holds(&self, id: NodeId) -> bool {
        self.outputs.contains(&id) || self.leaves.contains_key(&id)
    }
}

/// Why a tracked value can be missing from the tape, for the panics that find one.
const NOT_ON_TAPE: &str = "it was recorded before a backward pass (or clear_tape) consumed the tape, \
    or on another thread; recompute it in this pass, taking parameters with Param::var() each time \
    (to back-propagate two losses, add them and call backward once)";

thread_local! {
    static TAPE: RefCell<Tape> = RefCell::new(Tape::default());
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn fresh_id() -> NodeId {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// False while inside `no_grad` on this thread, where ops record nothing; true otherwise.
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
    let mut out = record_multi(vec![value], inputs, move |grads| {
        backward(grads[0].as_ref().expect("an entry runs only when one of its outputs has a gradient"))
    });
    out.pop().expect("one output")
}

/// Record an op with several outputs; its rule gets one optional gradient per output.
pub(crate) fn record_multi(
    values: Vec<Tensor>,
    inputs: &[&Var],
    backward: impl FnOnce(&[Option<Tensor>]) -> Vec<Option<Tensor>> + 'static,
) -> Vec<Var> {
    let ids: Vec<Option<NodeId>> = inputs.iter().map(|v| v.node()).collect();
    if !is_recording() || ids.iter().all(Option::is_none) {
        return values.into_iter().map(Var::constant).collect();
    }
    let outputs: Vec<NodeId> = values.iter().map(|_| fresh_id()).collect();
    let vars = values.into_iter().zip(&outputs).map(|(v, &id)| Var::tracked(v, id)).collect();
    TAPE.with(|t| {
        let mut tape = t.borrow_mut();
        // An input from a consumed tape would get no gradient, and neither would what it came from.
        if let Some(stale) = ids.iter().flatten().find(|&&id| !tape.holds(id)) {
            panic!("autograd: an input of this op (node {stale}) is not on this thread's tape: {NOT_ON_TAPE}");
        }
        tape.outputs.extend(&outputs);
        tape.entries.push(Entry { outputs, inputs: ids, backward: Box::new(backward) });
    });
    vars
}

fn accumulate(grads: &mut HashMap<NodeId, Tensor>, id: NodeId, g: Tensor) {
    match grads.remove(&id) {
        Some(old) => grads.insert(id, &old + &g),
        None => grads.insert(id, g),
    };
}

/// Back-propagate from a scalar: add d`loss`/d`p` into the gradient of every parameter `p` the loss
/// depends on, then release the tape.
///
/// Panics, leaving the tape as it was, when the loss is not a scalar, depends on no parameter, or
/// is not on this thread's tape (a second backward from the same loss, for one).
pub fn backward(loss: &Var) {
    assert_eq!(loss.value().numel(), 1, "backward needs a scalar loss, got shape {:?}", loss.value().shape());
    let Some(root) = loss.node() else {
        panic!("backward: the loss does not depend on any parameter (was it computed under no_grad?)");
    };
    let tape = TAPE.with(|t| {
        let mut tape = t.borrow_mut();
        assert!(tape.holds(root), "backward: the loss (node {root}) is not on this thread's tape: {NOT_ON_TAPE}");
        std::mem::take(&mut *tape)
    });
    let mut grads = HashMap::new();
    grads.insert(root, loss.value().ones_like());
    for entry in tape.entries.into_iter().rev() {
        // An entry off the loss's path has no gradient: dropping it frees what it saved.
        let output_grads: Vec<Option<Tensor>> = entry.outputs.iter().map(|id| grads.remove(id)).collect();
        if output_grads.iter().all(Option::is_none) {
            continue;
        }
        let input_grads = (entry.backward)(&output_grads);
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
