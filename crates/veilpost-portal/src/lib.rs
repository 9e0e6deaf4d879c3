//! The portal's rules, without I/O: how a recipient gets from a notification link to the
//! message ([`login`]) and how guessing and flooding are slowed down ([`ratelimit`]).
//! Time is always passed in (seconds since the Unix epoch), so every rule is tested
//! without waiting.

pub mod login;
pub mod ratelimit;
pub use ratelimit::RateLimit;
