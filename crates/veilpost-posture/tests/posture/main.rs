//! `check-domain` on loopback: zones from the in-process DNS server (plain and
//! DNSSEC-signed), SMTP servers on 127.0.0.x with rcgen certificates, an HTTPS server for
//! MTA-STS, all trusting one test CA.

mod checks;
mod compare;
mod servers;
