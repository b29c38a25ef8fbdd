//! sipwire-core never allocates: parsing a message and reading the headers a proxy needs
//! (top Via and branch, From/To tags, Call-ID, CSeq, Max-Forwards, Route, body) performs no
//! heap allocation at all. A counting global allocator checks it on the benchmark's inputs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use sipwire_core::message::{Header, Parser, Status};

std::thread_local! {
    /// This thread's allocations (alloc, alloc_zeroed, realloc) while it counts, `None` while
    /// it does not. Per thread: the test harness runs tests (which allocate) concurrently.
    static ALLOCS: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The system allocator, counting the allocations of a thread that asked for it.
struct Counting;

impl Counting {
    fn note(&self) {
        // `try_with`: the thread-local may already be gone while a thread shuts down.
        let _ = ALLOCS.try_with(|n| n.set(n.get().map(|n| n + 1)));
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.note();
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCS.with(|n| n.set(Some(0)));
    f();
    ALLOCS.with(|n| n.take()).unwrap_or_default()
}

/// Parses `bytes` as a datagram and reads every header a proxy needs, as the benchmark does.
/// Panics if any of it fails, so that a zero count means the work was really done.
fn proxy_work(bytes: &[u8]) {
    let mut slots = [Header::EMPTY; 32];
    let Status::Complete(msg) = Parser::datagram().parse(bytes, &mut slots).unwrap() else {
        panic!("a datagram is never partial");
    };
    let via = msg.top_via().unwrap().expect("a Via");
    black_box(via.branch().expect("a branch"));
    black_box(msg.from().unwrap().tag().expect("a From tag"));
    black_box(msg.to().unwrap().tag());
    black_box(msg.call_id().unwrap());
    black_box(msg.cseq().unwrap());
    black_box(msg.max_forwards().unwrap());
    black_box(msg.routes().next().transpose().unwrap());
    black_box(msg.vias().count());
    black_box(msg.contacts().count());
    black_box(msg.body().len());
}

/// Asserts that the proxy work on `bytes` allocates nothing (after one warm-up run, so that
/// lazily initialised statics of the test harness are not counted).
fn assert_alloc_free(name: &str, bytes: &[u8]) {
    proxy_work(bytes);
    let n = allocations(|| {
        for _ in 0..100 {
            proxy_work(black_box(bytes));
        }
    });
    assert_eq!(n, 0, "{name}: {n} heap allocations in 100 parses");
}

#[test]
fn invite_with_sdp_is_alloc_free() {
    assert_alloc_free("invite", include_bytes!("../benches/data/invite.sip"));
}

#[test]
fn register_200_is_alloc_free() {
    assert_alloc_free(
        "register_200",
        include_bytes!("../benches/data/register_200.sip"),
    );
}

#[test]
fn wsinv_is_alloc_free() {
    assert_alloc_free(
        "wsinv",
        include_bytes!("../../tests/data/rfc4475/wsinv.dat"),
    );
}

#[test]
fn the_counter_counts() {
    // Guards the test itself: an allocation on the counting thread is seen.
    let n = allocations(|| {
        black_box(vec![1u8; 16]);
    });
    assert!(n >= 1, "counting allocator saw {n} allocations");
}
