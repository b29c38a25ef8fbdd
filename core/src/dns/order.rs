//! The order in which to try what DNS returned: NAPTR by order and preference (RFC 3403
//! §4.1, RFC 3263 §4.1), SRV by priority and weighted random choice (RFC 2782).

use super::records::{NaptrRecord, SrvRecord};
use super::{Name, Transports};
use crate::rand::Rng;

/// The most records of one answer the core looks at; the rest are ignored (an answer that
/// large is unusual, and hostile input must not cost more).
pub const MAX_RECORDS: usize = 16;

/// Indexes into `records` of the NAPTR records a client may use, best first, written into
/// `out`; how many. RFC 3263 §4.1: flag `s` with no regexp, a SIP service over a transport
/// in `supported`, only SIPS services for a `sips` URI (`secure`), a usable replacement;
/// ordered by order, then preference (RFC 3403 §4.1), ties in the answer's order. Only
/// the first [`MAX_RECORDS`] records are considered.
pub fn order_naptr(
    records: &[NaptrRecord<'_>],
    secure: bool,
    supported: Transports,
    out: &mut [u8],
) -> usize {
    let mut n = 0;
    for (i, r) in records.iter().enumerate().take(MAX_RECORDS) {
        let usable = r.flags.eq_ignore_ascii_case("s")
            && r.regexp.is_empty()
            && r.replacement != "."
            && Name::new(&[r.replacement]).is_some()
            && r.service()
                .is_some_and(|(t, sips)| supported.contains(t) && (sips || !secure));
        if !usable {
            continue;
        }
        let Some(slot) = out.get_mut(n) else { break };
        // `i < MAX_RECORDS <= 255`.
        *slot = i as u8;
        n += 1;
    }
    let key = |i: u8| {
        let r = &records[usize::from(i)];
        (r.order, r.preference)
    };
    insertion_sort_by_key(&mut out[..n], key);
    n
}

/// Indexes into `records` in the order RFC 2782 says to try them, written into `out`; how
/// many. Lowest priority first; within a priority, repeated weighted random selection
/// (weight-0 records placed first so that they are chosen only when the running sum allows,
/// and in turn when all weights are 0). Records with target `.`, port 0 or an unusable name
/// are skipped. Only the first [`MAX_RECORDS`] records are considered.
pub fn order_srv(records: &[SrvRecord<'_>], rng: &mut Rng, out: &mut [u8]) -> usize {
    let mut cand = [0u8; MAX_RECORDS];
    let mut n = 0;
    for (i, r) in records.iter().enumerate().take(MAX_RECORDS) {
        if r.is_unavailable() || r.port == 0 || Name::new(&[r.target]).is_none() {
            continue;
        }
        // `n < MAX_RECORDS` as `take` bounds `i`; `i < 256`.
        cand[n] = i as u8;
        n += 1;
    }
    let rec = |i: u8| &records[usize::from(i)];
    // By priority; within it, weight 0 first (RFC 2782: "all those with weight 0 are placed
    // at the beginning of the list").
    insertion_sort_by_key(&mut cand[..n], |i| (rec(i).priority, rec(i).weight != 0));
    let mut written = 0;
    let mut start = 0;
    while start < n {
        let p = rec(cand[start]).priority;
        let mut end = start;
        while end < n && rec(cand[end]).priority == p {
            end += 1;
        }
        // RFC 2782: sum the weights of the records not yet ordered, pick a uniform random
        // number in 0..=sum, take the first record whose running sum reaches it; repeat.
        while start < end {
            let group = &cand[start..end];
            let sum: u32 = group.iter().map(|&i| u32::from(rec(i).weight)).sum();
            let pick = if sum == 0 {
                0
            } else {
                rng.next_u64() % (u64::from(sum) + 1)
            };
            let mut running = 0u64;
            let chosen = group
                .iter()
                .position(|&i| {
                    running += u64::from(rec(i).weight);
                    running >= pick
                })
                // The running sum ends at `sum >= pick`, so some record reaches it.
                .unwrap_or(0);
            let Some(slot) = out.get_mut(written) else {
                return written;
            };
            *slot = cand[start + chosen];
            written += 1;
            // Keep the rest in their order (weight 0 still first).
            cand[start..=start + chosen].rotate_right(1);
            start += 1;
        }
    }
    written
}

/// A stable sort for a handful of indexes (no allocation, no recursion).
fn insertion_sort_by_key<K: Ord>(v: &mut [u8], key: impl Fn(u8) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(v[j - 1]) > key(v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn naptr(order: u16, preference: u16, services: &'static str) -> NaptrRecord<'static> {
        NaptrRecord {
            order,
            preference,
            flags: "s",
            services,
            regexp: "",
            replacement: "_x._y.example.test",
        }
    }

    fn srv(priority: u16, weight: u16, target: &'static str) -> SrvRecord<'static> {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target,
        }
    }

    fn ordered_naptr(records: &[NaptrRecord<'_>], secure: bool, supported: Transports) -> Vec {
        let mut out = [0u8; MAX_RECORDS];
        let n = order_naptr(records, secure, supported, &mut out);
        Vec::from(&out[..n])
    }

    /// A tiny fixed vector for the tests' expectations.
    #[derive(Debug, PartialEq)]
    struct Vec([u8; MAX_RECORDS], usize);

    impl Vec {
        fn from(s: &[u8]) -> Vec {
            let mut v = [0; MAX_RECORDS];
            v[..s.len()].copy_from_slice(s);
            Vec(v, s.len())
        }
    }

    #[test]
    fn naptr_order_and_filter() {
        let all = Transports::UDP
            .with(Transport::Tcp)
            .with(Transport::Tls)
            .with(Transport::Sctp);
        let mut bad_flags = naptr(1, 1, "SIP+D2U");
        bad_flags.flags = "u";
        let mut regexp = naptr(1, 1, "SIP+D2U");
        regexp.regexp = "!^.*$!sip:x@y!";
        let mut dot = naptr(1, 1, "SIP+D2U");
        dot.replacement = ".";
        let mut upper = naptr(1, 1, "SIP+D2U");
        upper.flags = "S";
        let cases: &[(&[NaptrRecord<'_>], bool, Transports, &[u8])] = &[
            // Order first, then preference; ties keep the answer's order.
            (
                &[
                    naptr(20, 10, "SIP+D2U"),
                    naptr(10, 50, "SIP+D2T"),
                    naptr(10, 10, "SIPS+D2T"),
                    naptr(10, 50, "SIP+D2S"),
                ],
                false,
                all,
                &[2, 1, 3, 0],
            ),
            // Unsupported transports are dropped.
            (
                &[naptr(1, 1, "SIP+D2T"), naptr(2, 1, "SIP+D2U")],
                false,
                Transports::UDP,
                &[1],
            ),
            // A sips URI keeps only SIPS services (RFC 3263 §4.1).
            (
                &[naptr(1, 1, "SIP+D2T"), naptr(2, 1, "SIPS+D2T")],
                true,
                all,
                &[1],
            ),
            (&[naptr(1, 1, "SIP+D2U")], true, all, &[]),
            // Not SIP's, or not usable.
            (
                &[
                    naptr(1, 1, "E2U+sip"),
                    bad_flags,
                    regexp,
                    dot,
                    upper,
                    naptr(1, 1, "SIPS+D2U"),
                ],
                false,
                all,
                &[4],
            ),
            (&[], false, all, &[]),
        ];
        for (records, secure, supported, want) in cases {
            assert_eq!(
                ordered_naptr(records, *secure, *supported),
                Vec::from(want),
                "{records:?}"
            );
        }
    }

    #[test]
    fn naptr_bounds() {
        let many = [naptr(1, 1, "SIP+D2U"); 40];
        let got = ordered_naptr(&many, false, Transports::UDP);
        assert_eq!(got.1, MAX_RECORDS);
        let mut small = [0u8; 2];
        assert_eq!(order_naptr(&many, false, Transports::UDP, &mut small), 2);
    }

    fn ordered_srv(records: &[SrvRecord<'_>], seed: u64) -> Vec {
        let mut out = [0u8; MAX_RECORDS];
        let n = order_srv(records, &mut Rng::new(seed), &mut out);
        Vec::from(&out[..n])
    }

    #[test]
    fn srv_priority_and_skips() {
        let mut port0 = srv(1, 0, "p0.example.test");
        port0.port = 0;
        let cases: &[(&[SrvRecord<'_>], &[u8])] = &[
            // Lowest priority first, whatever the weights.
            (
                &[
                    srv(20, 100, "c.example.test"),
                    srv(10, 0, "a.example.test"),
                    srv(30, 5, "d.example.test"),
                ],
                &[1, 0, 2],
            ),
            // "." (not available), port 0 and unusable names are skipped.
            (
                &[
                    srv(0, 0, "."),
                    port0,
                    srv(1, 1, "bad name"),
                    srv(5, 0, "ok.example.test"),
                ],
                &[3],
            ),
            (&[srv(0, 0, ".")], &[]),
            (&[], &[]),
            // All weights 0: RFC 2782's pick is always the first left, the answer's order.
            (
                &[
                    srv(1, 0, "a.example.test"),
                    srv(1, 0, "b.example.test"),
                    srv(1, 0, "c.example.test"),
                ],
                &[0, 1, 2],
            ),
        ];
        for (records, want) in cases {
            for seed in 0..20 {
                assert_eq!(ordered_srv(records, seed), Vec::from(want), "{records:?}");
            }
        }
    }

    #[test]
    fn srv_weighted_distribution() {
        // Weights 1:3 at one priority: the heavier first about 3 times in 4 (RFC 2782).
        let records = [srv(1, 10, "a.example.test"), srv(1, 30, "b.example.test")];
        let mut rng = Rng::new(42);
        let mut first_b = 0;
        const RUNS: u32 = 4000;
        for _ in 0..RUNS {
            let mut out = [0u8; 2];
            assert_eq!(order_srv(&records, &mut rng, &mut out), 2);
            assert_ne!(out[0], out[1]);
            first_b += u32::from(out[0] == 1);
        }
        // 3000 expected; a fixed seed makes this exact run repeatable.
        assert!((2850..3150).contains(&first_b), "{first_b}");
    }

    #[test]
    fn srv_weight_zero_rarely_first() {
        // A weight-0 record competes with weight 99: first only when the pick is 0 (1 in 100).
        let records = [srv(1, 0, "zero.example.test"), srv(1, 99, "w.example.test")];
        let mut rng = Rng::new(9);
        let mut zero_first = 0;
        for _ in 0..2000 {
            let mut out = [0u8; 2];
            order_srv(&records, &mut rng, &mut out);
            zero_first += u32::from(out[0] == 0);
        }
        assert!(zero_first < 60, "{zero_first}");
        // Other priorities still come after, in priority order.
        let records = [
            srv(2, 0, "late.example.test"),
            srv(1, 0, "zero.example.test"),
            srv(1, 99, "w.example.test"),
        ];
        let got = ordered_srv(&records, 3);
        assert_eq!(got.1, 3);
        assert_eq!(got.0[2], 0);
    }

    #[test]
    fn srv_bounds() {
        // Weights that would overflow u16 sums, many records: no panic, bounded output.
        let many = [srv(1, u16::MAX, "a.example.test"); 40];
        let got = ordered_srv(&many, 1);
        assert_eq!(got.1, MAX_RECORDS);
        let mut small = [0u8; 3];
        assert_eq!(order_srv(&many, &mut Rng::new(1), &mut small), 3);
        let mut none = [0u8; 0];
        assert_eq!(order_srv(&many, &mut Rng::new(1), &mut none), 0);
    }
}
