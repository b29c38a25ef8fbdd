//! Fuzzes the URI parser: any input either fails to parse or gives a URI that is equivalent to
//! itself (RFC 3261 §19.1.4) and whose accessors do not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwire_core::message::Uri;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = Uri::parse(data) {
        assert!(u.equivalent(&u), "not reflexive: {u}");
        assert_eq!(u.raw().as_bytes(), data);
        let _ = (u.transport(), u.maddr(), u.lr(), u.ttl(), u.port_or_default());
        let _ = (u.user_param(), u.method_param(), u.params().iter().count());
    }
});
