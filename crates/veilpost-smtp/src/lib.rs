//! Veilpost's SMTP: the submission and relay server (a sans-I/O session over smtp-proto,
//! driven over plain or TLS streams) and the delivery client with the TLS policy.

pub mod server;
pub mod session;

pub use server::{Backend, Refusal, Settings, serve};
pub use session::{Action, Limits, Peer, Session, Transaction};
