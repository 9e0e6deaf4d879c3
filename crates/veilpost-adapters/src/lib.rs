//! Clients of the outside services Veilpost talks to, each behind a small interface: SMS
//! providers (a local outbox file, a JSON webhook, CM.com), ClamAV's daemon, and a SIEM's
//! syslog receiver. I/O only;
//! what to send and when is decided elsewhere. Used by the gateway and by the web pages.

pub mod clamd;
pub mod sms;
pub mod syslog;

pub use sms::{Provider as SmsProvider, SmsSender};
