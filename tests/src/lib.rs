//! Shared helpers for sipwire's cross-crate tests.

use std::path::PathBuf;

/// The folder holding the 49 RFC 4475 torture messages (copied from the project's shared
/// test data, byte for byte).
pub fn rfc4475_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/rfc4475")
}

/// The bytes of one RFC 4475 message, by its short name (`wsinv`, `clerr`, ...).
pub fn rfc4475(name: &str) -> Vec<u8> {
    let path = rfc4475_dir().join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
