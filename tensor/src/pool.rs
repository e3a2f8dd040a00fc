//! Recycling of large f32/f64 buffers between ops.
//!
//! A training step allocates the same large activations every step (a ViT-S MLP hidden layer at
//! batch 64 is 77 MB). The system allocator returns blocks that large to the OS when they are
//! freed and maps fresh pages for the next allocation, so every step page-faults and zeroes them
//! again in the kernel — measured at a third of a CPU block's forward+backward time. Instead, a
//! storage buffer of at least `MIN_POOLED_BYTES` goes onto a shelf when its tensor is dropped, and
//! the next allocation of a similar size takes it back (zeroed in user space, which is several
//! times cheaper than faulting pages in). The shelf holds at most `limit()` bytes.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Smaller buffers are left to the allocator, which already reuses them well.
pub const MIN_POOLED_BYTES: usize = 1 << 20;
/// Default cap on the bytes kept on the shelf.
pub const DEFAULT_LIMIT_BYTES: usize = 4 << 30;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_LIMIT_BYTES);

#[derive(Default)]
struct Shelf {
    f32: Vec<Vec<f32>>,
    f64: Vec<Vec<f64>>,
    bytes: usize,
}

static SHELF: Mutex<Shelf> = Mutex::new(Shelf { f32: Vec::new(), f64: Vec::new(), bytes: 0 });

/// The most bytes the shelf keeps.
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Change the cap (0 turns recycling off) and drop whatever no longer fits.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    if bytes == 0 {
        clear();
    }
}

/// Return every shelved buffer to the allocator.
pub fn clear() {
    let mut shelf = SHELF.lock().expect("buffer pool poisoned");
    *shelf = Shelf::default();
}

/// Bytes currently shelved.
pub fn shelved_bytes() -> usize {
    SHELF.lock().expect("buffer pool poisoned").bytes
}

/// Take the smallest shelved buffer with room for `n` that is at most twice too big, zeroed or
/// holding whatever it held before (`zero == false`; only a grown tail is filled).
fn take_from<T: Copy + Default>(list: &mut Vec<Vec<T>>, bytes: &mut usize, n: usize, zero: bool) -> Option<Vec<T>> {
    let fits = |v: &&Vec<T>| v.capacity() >= n && v.capacity() <= 2 * n;
    let (i, _) = list.iter().enumerate().filter(|(_, v)| fits(v)).min_by_key(|(_, v)| v.capacity())?;
    let mut v = list.swap_remove(i);
    *bytes -= v.capacity() * size_of::<T>();
    if zero {
        v.clear();
    } else {
        v.truncate(n);
    }
    v.resize(n, T::default());
    Some(v)
}

impl Shelf {
    /// A buffer of `n` elements from the shelf (zeroed if `zero`), if one fits.
    fn take<T: Copy + Default + 'static>(&mut self, n: usize, zero: bool) -> Option<Vec<T>> {
        let Shelf { f32, f64, bytes } = self;
        let found: Option<Box<dyn Any>> = if let Some(list) = (f32 as &mut dyn Any).downcast_mut::<Vec<Vec<T>>>() {
            take_from(list, bytes, n, zero).map(|v| Box::new(v) as Box<dyn Any>)
        } else if let Some(list) = (f64 as &mut dyn Any).downcast_mut::<Vec<Vec<T>>>() {
            take_from(list, bytes, n, zero).map(|v| Box::new(v) as Box<dyn Any>)
        } else {
            None
        };
        found.and_then(|b| b.downcast::<Vec<T>>().ok()).map(|b| *b)
    }

    /// Keep `v` if it is a large f32/f64 buffer that fits under `limit`.
    fn put<T: 'static>(&mut self, v: Vec<T>, limit: usize) {
        let size = v.capacity() * size_of::<T>();
        if size < MIN_POOLED_BYTES || self.bytes + size > limit {
            return;
        }
        let any: Box<dyn Any> = Box::new(v);
        match any.downcast::<Vec<f32>>() {
            Ok(v) => self.f32.push(*v),
            Err(any) => match any.downcast::<Vec<f64>>() {
                Ok(v) => self.f64.push(*v),
                Err(_) => return,
            },
        }
        self.bytes += size;
    }
}

/// A zero-filled vector of `n` elements, from the shelf when a fitting buffer is there.
pub(crate) fn zeroed<T: Copy + Default + 'static>(n: usize) -> Vec<T> {
    if n * size_of::<T>() >= MIN_POOLED_BYTES {
        if let Some(v) = SHELF.lock().expect("buffer pool poisoned").take(n, true) {
            return v;
        }
    }
    vec![T::default(); n]
}

/// A vector of `n` elements with unspecified (but initialised) contents, for outputs whose every
/// element is written before it is read: a recycled buffer then skips zeroing, which profiles of
/// small-model training steps showed at a tenth of the step.
pub(crate) fn for_overwrite<T: Copy + Default + 'static>(n: usize) -> Vec<T> {
    if n * size_of::<T>() >= MIN_POOLED_BYTES {
        if let Some(v) = SHELF.lock().expect("buffer pool poisoned").take(n, false) {
            return v;
        }
    }
    vec![T::default(); n]
}

/// Put a buffer that is no longer used on the shelf (or free it when it is small, of another
/// type, or would not fit under the limit).
pub(crate) fn recycle<T: 'static>(v: Vec<T>) {
    if v.capacity() * size_of::<T>() >= MIN_POOLED_BYTES {
        SHELF.lock().expect("buffer pool poisoned").put(v, limit());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A private shelf: the global one is shared with every other test running in parallel.
    #[test]
    fn buffers_come_back_zeroed_and_the_limit_holds() {
        let n = MIN_POOLED_BYTES; // 4 MiB of f32
        let mut shelf = Shelf::default();
        let mut v = vec![7.0f32; n];
        let ptr = v.as_ptr();
        v.truncate(n - 1);
        shelf.put(v, DEFAULT_LIMIT_BYTES);
        assert_eq!(shelf.bytes, n * 4);
        let again: Vec<f32> = shelf.take(n - 5, true).unwrap();
        assert_eq!((again.as_ptr(), again.len()), (ptr, n - 5), "the shelved buffer is reused");
        assert!(again.iter().all(|&x| x == 0.0), "reused buffers are zeroed");
        assert_eq!(shelf.bytes, 0);
        shelf.put(again, DEFAULT_LIMIT_BYTES);
        assert!(shelf.take::<f32>(3 * n, true).is_none(), "too small for the request");
        assert!(shelf.take::<f32>(n / 4, true).is_none(), "more than twice too big");
        assert!(shelf.take::<f64>(n / 2, true).is_none(), "another element type");
        shelf.put(vec![0.0f64; n], n * 4 + n * 8 - 1);
        assert_eq!(shelf.bytes, n * 4, "nothing is kept over the limit");
        shelf.put(vec![1u8; 10 << 20], DEFAULT_LIMIT_BYTES);
        shelf.put(vec![1.0f32; 16], DEFAULT_LIMIT_BYTES);
        assert_eq!(shelf.bytes, n * 4, "small buffers and other types are never shelved");
    }

    #[test]
    fn buffers_for_overwriting_keep_their_contents_and_fill_a_grown_tail() {
        let n = MIN_POOLED_BYTES;
        let mut shelf = Shelf::default();
        let mut v = vec![7.0f32; n];
        v.truncate(n - 10);
        shelf.put(v, DEFAULT_LIMIT_BYTES);
        let again: Vec<f32> = shelf.take(n - 2, false).unwrap();
        assert_eq!(again.len(), n - 2);
        assert!(again[..n - 10].iter().all(|&x| x == 7.0), "not zeroed");
        assert!(again[n - 10..].iter().all(|&x| x == 0.0), "the grown tail is initialised");
    }
}
