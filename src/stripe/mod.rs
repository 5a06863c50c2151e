//! Stripe knowledge: the event envelope, built-in object templates per API
//! version family, signatures (sign and verify, every drill signature mode)
//! and body encodings.

pub mod body;
pub mod envelope;
pub mod signature;
pub mod template;
