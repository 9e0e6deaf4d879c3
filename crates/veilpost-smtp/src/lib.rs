//! Veilpost's SMTP: the submission and relay server (a sans-I/O session over smtp-proto,
//! driven over plain or TLS streams) and the delivery client with the TLS policy.

pub mod client;
pub mod server;
pub mod session;
pub mod verify;

pub use client::{
    ClientSettings, Delivered, DeliveryError, Outgoing, TlsRequirement, deliver, dot_stuff,
};
pub use server::{Backend, Refusal, Settings, serve};
pub use session::{Action, Limits, Peer, Recipient, Session, Transaction};
