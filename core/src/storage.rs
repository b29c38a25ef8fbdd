//! Fixed-capacity storage handed to the core: borrowed from the caller (a `static` array on
//! a microcontroller, a boxed slice on a server), or owned as a `Vec` with the `alloc`
//! feature. Either way the capacity is fixed when it is handed over; nothing grows.

use core::ops::{Deref, DerefMut};

/// A slice the core works in, borrowed or (with `alloc`) owned.
#[derive(Debug)]
pub enum Storage<'s, T> {
    /// Caller-provided memory.
    Borrowed(&'s mut [T]),
    /// Memory owned by the core, allocated once (feature `alloc`).
    #[cfg(feature = "alloc")]
    Owned(alloc::vec::Vec<T>),
}

impl<T> Deref for Storage<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Storage::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Storage::Owned(v) => v,
        }
    }
}

impl<T> DerefMut for Storage<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Storage::Borrowed(s) => s,
            #[cfg(feature = "alloc")]
            Storage::Owned(v) => v,
        }
    }
}

impl<'s, T> From<&'s mut [T]> for Storage<'s, T> {
    fn from(s: &'s mut [T]) -> Self {
        Storage::Borrowed(s)
    }
}

impl<'s, T, const N: usize> From<&'s mut [T; N]> for Storage<'s, T> {
    fn from(s: &'s mut [T; N]) -> Self {
        Storage::Borrowed(s)
    }
}

#[cfg(feature = "alloc")]
impl<T> From<alloc::vec::Vec<T>> for Storage<'_, T> {
    fn from(v: alloc::vec::Vec<T>) -> Self {
        Storage::Owned(v)
    }
}
