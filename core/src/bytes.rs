//! Moving bytes within one buffer without `memmove`.
//!
//! `slice::copy_within` lowers to `memmove`, whose Cortex-M implementation in
//! `compiler_builtins` is about 1.5 KB of flash; with the `small-code` feature the core moves
//! bytes as a few non-overlapping `copy_from_slice` calls (`memcpy`, linked anyway) instead.
//! The result is the same; only flash and speed differ.
//!
//! Also [`nth_phrase`]: tables of reason phrases kept as one string.

use core::ops::Range;

/// Copies `buf[from]` to `buf[to..to + from.len()]`, like `buf.copy_within(from, to)`: the
/// ranges may overlap. A range outside `buf` copies nothing (the callers check first).
pub(crate) fn copy_within(buf: &mut [u8], from: Range<usize>, to: usize) {
    let len = from.end.saturating_sub(from.start);
    if from.end > buf.len() || to.checked_add(len).is_none_or(|end| end > buf.len()) {
        return;
    }
    move_bytes(buf, from.start, to, len);
}

#[cfg(not(feature = "small-code"))]
fn move_bytes(buf: &mut [u8], from: usize, to: usize, len: usize) {
    buf.copy_within(from..from + len, to);
}

/// In chunks no longer than the distance moved: a chunk's source and destination never
/// overlap, and each chunk is read before a later one overwrites it (front to back when
/// moving down, back to front when moving up).
#[cfg(feature = "small-code")]
fn move_bytes(buf: &mut [u8], from: usize, to: usize, len: usize) {
    let step = from.abs_diff(to);
    if step == 0 {
        return;
    }
    let mut done = 0;
    while done < len {
        let n = step.min(len - done);
        if to < from {
            // Source [from + done, +n), destination [to + done, +n) ends at or before it.
            let (lo, hi) = buf.split_at_mut(from + done);
            lo[to + done..to + done + n].copy_from_slice(&hi[..n]);
        } else {
            // The last chunk not yet moved: source [s, s + n), destination from s + step.
            let s = from + len - done - n;
            let (lo, hi) = buf.split_at_mut(s + n);
            let d = s + step - (s + n);
            hi[d..d + n].copy_from_slice(&lo[s..]);
        }
        done += n;
    }
}

/// The `i`th of the `|`-separated phrases in `list`, `""` past the end: a table of reason
/// phrases (§21) as one string and an index, smaller in flash than a `match` returning
/// string constants (each arm a pointer and a length).
pub(crate) fn nth_phrase(list: &'static str, i: usize) -> &'static str {
    crate::message::lex::split_byte(list, b'|')
        .nth(i)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn same_as_copy_within(
            mut buf in proptest::collection::vec(any::<u8>(), 0..64),
            a in 0usize..70, b in 0usize..70, len in 0usize..70,
        ) {
            let mut want = buf.clone();
            let fits = a + len <= buf.len() && b + len <= buf.len();
            if fits {
                want.copy_within(a..a + len, b);
            }
            copy_within(&mut buf, a..a + len, b);
            prop_assert_eq!(buf, want);
        }
    }
}
