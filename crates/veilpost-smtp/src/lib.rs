//! Veilpost's SMTP: the submission and relay server (a sans-I/O session over smtp-proto,
//! driven over plain or TLS streams) and the delivery client with the TLS policy.

//!
//! The session is pure (no sockets, no clock, no runtime); the `io` feature (on by
//! default) adds the server that drives it and the delivery client.

#[cfg(feature = "io")]
pub mod client;
pub mod milter;
#[cfg(feature = "io")]
pub mod server;
pub mod session;
#[cfg(feature = "io")]
pub mod verify;

#[cfg(feature = "io")]
pub use client::{
    ClientSettings, Delivered, DeliveryError, Outgoing, SessionCache, SessionKey, TlsRequirement,
    deliver, deliver_cached, dot_stuff,
};
#[cfg(feature = "io")]
pub use server::{Backend, Refusal, Settings, serve};
pub use session::{Action, Limits, Peer, Recipient, Session, Transaction};
