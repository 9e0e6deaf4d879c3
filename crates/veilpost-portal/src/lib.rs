//! The portal's rules, without I/O: how a recipient gets from a notification link to the
//! message ([`login`]) and how guessing and flooding are slowed down ([`ratelimit`]; staff sign-in failures
//! in [`guard`]).
//! Time is always passed in (seconds since the Unix epoch), so every rule is tested
//! without waiting.

pub mod client;
pub mod guard;
pub mod login;
pub mod ratelimit;
pub use guard::{Locked, LoginGuard};
pub use ratelimit::RateLimit;
