//! Clients of the outside services Veilpost talks to, each behind a small interface: SMS
//! providers (a local outbox file, a JSON webhook, CM.com) and ClamAV's daemon. I/O only;
//! what to send and when is decided elsewhere. Used by the gateway and by the web pages.

pub mod clamd;
pub mod sms;

pub use sms::{Provider as SmsProvider, SmsSender};
