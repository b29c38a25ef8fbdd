//! Tests of the SDP module.
