//! Words for people, in one place for the gateway, the web and the command line.
//!
//! - [`Lang`]: the one language type (Dutch by default, English available).
//! - [`dates`]: dates and times as people in the Netherlands read them (Dutch time).
//! - [`file_name`]: an attachment's name made safe to show, download or put in a ZIP.
//! - [`phone`]: telephone numbers as people type them, kept in E.164, shown masked.
//! - [`reports`]: words about DMARC and TLS reports.
//! - [`mails`]: every mail Veilpost writes itself, Dutch then English (portal
//!   notifications, codes, receipts, confirmations, hold notices, DSNs, replies).
//!
//! Pure code: no I/O, no async.

pub mod dates;
pub mod file_name;
pub mod lang;
pub mod mails;
pub mod phone;
pub mod reports;

pub use lang::Lang;
