//! The milter listener (`milter.listen`): Postfix asks Veilpost about every message
//! before it takes it (milter protocol v6; `smtpd_milters = inet:HOST:PORT`). The verdict
//! is the MX listener's, from the same code ([`InboundBackend::examine`]):
//!
//! - reject: Postfix answers the sender with Veilpost's 5xx;
//! - quarantine: Veilpost spools the message (with its verdict) before Postfix says 250,
//!   holds it in its own quarantine and tells Postfix to discard its copy; a release goes
//!   to `inbound.relay_to`;
//! - accept or tag: the message goes on in Postfix with Veilpost's headers, banner and
//!   subject tag, sent as milter edits read off the changed message
//!   ([`veilpost_verdict::edits`]).
//!
//! Mail for none of the organisation's domains is not inbound and passes unjudged.
//!
//! When Veilpost cannot decide (its store, the verdict or clamd failing), `milter.fail_closed`
//! (default) answers 451 so that the sender retries; without it the message goes on
//! unchecked, marked `X-Veilpost-Verdict: unchecked`. Postfix's own `milter_default_action`
//! covers Veilpost being unreachable.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Result;
use miltr_common::actions::{Action, Continue, Discard, Replycode};
use miltr_common::commands::{Body, Connect, Header, Helo, Mail, Recipient};
use miltr_common::modifications::ModificationResponse;
use miltr_common::modifications::body::ReplaceBody;
use miltr_common::modifications::headers::{AddHeader, ChangeHeader, InsertHeader};
use miltr_common::optneg::{OptNeg, Protocol};
use tokio_util::compat::TokioAsyncReadCompatExt;
use veilpost_smtp::{Refusal, Transaction};
use veilpost_verdict::Action as Verdict;

use super::inbound::{InboundBackend, temporary};

/// Largest body replacement in one reply.
const BODY_CHUNK: usize = 1000;

/// Accept Postfix's milter connections until the listener fails; one task each, at most
/// `smtp.max_connections` at once.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    backend: InboundBackend,
    settings: Settings,
) -> Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("milter accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let mut session = Session::new(backend.clone(), settings.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let mut server = miltr_server::Server::default_postfix(&mut session);
            if let Err(e) = server.handle_connection(socket.compat()).await {
                tracing::warn!("milter connection from {peer}: {e}");
            }
        });
    }
}

/// The listener's settings, from the configuration.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub fail_closed: bool,
}

/// One Postfix connection: the client it speaks for and the message under way.
struct Session {
    backend: InboundBackend,
    settings: Settings,
    /// Postfix sends header values with their leading space (SMFIP_HDR_LEADSPC).
    leading_space: bool,
    client: Option<IpAddr>,
    helo: String,
    message: Message,
}

/// The message Postfix is telling us about, gathered command by command.
#[derive(Debug, Default)]
struct Message {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// Header fields as the sender wrote them (CRLF line ends), then the body.
    data: Vec<u8>,
    header_done: bool,
    too_big: bool,
}

impl Session {
    fn new(backend: InboundBackend, settings: Settings) -> Session {
        Session {
            backend,
            settings,
            leading_space: false,
            client: None,
            helo: String::new(),
            message: Message::default(),
        }
    }

    /// Add bytes to the message unless it is already too big to judge.
    fn take(&mut self, bytes: &[u8]) {
        let m = &mut self.message;
        if m.too_big || m.data.len() + bytes.len() > self.settings.max_message_size {
            m.too_big = true;
            m.data = Vec::new();
            return;
        }
        m.data.extend_from_slice(bytes);
    }

    /// A header value as it goes back to Postfix: folded lines joined by LF, with the
    /// leading space when Postfix sends (and so expects) it.
    fn value_out(&self, value: &str) -> Vec<u8> {
        let value = value.replace("\r\n", "\n");
        if self.leading_space {
            format!(" {value}").into_bytes()
        } else {
            value.into_bytes()
        }
    }

    /// The answer at the end of the message.
    async fn answer(&mut self) -> ModificationResponse {
        let m = std::mem::take(&mut self.message);
        if m.too_big {
            return refuse(&(
                552,
                "5.3.4".into(),
                "Message too big for this server".into(),
            ));
        }
        let t = Transaction {
            helo: self.helo.clone(),
            mail_from: m.mail_from,
            rcpt_to: m.rcpt_to,
            auth_user: None,
            tls: false,
            smtputf8: false,
            data: m.data,
        };
        // Mail for no one of ours is not inbound (staff mail on its way out through
        // a Postfix that asks for everything): Veilpost sees it as the relayhost.
        if !t.rcpt_to.iter().any(|r| self.backend.for_us(r)) {
            return ModificationResponse::empty_continue();
        }
        // A local submission (no client address) is judged as from nowhere: SPF fails
        // closed rather than vouching for it.
        let peer = SocketAddr::new(self.client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), 0);
        let examined = match self.backend.examine(&t, peer, None).await {
            Ok(examined) => examined,
            Err(refusal) if refusal.0 >= 500 => return refuse(&refusal),
            Err(refusal) => return self.undecided(&refusal),
        };
        if examined.verdict.action == Verdict::Quarantine {
            // Ours now, durably, before Postfix tells the sender 250; its copy goes.
            return match self.backend.spool(&t, peer, examined.data).await {
                Ok(id) => {
                    self.backend.remember(examined.keys);
                    tracing::info!("milter {id} from {}: {}", peer.ip(), examined.names);
                    ModificationResponse::builder().build(Discard)
                }
                Err(refusal) => self.undecided(&refusal),
            };
        }
        self.backend.remember(examined.keys);
        tracing::info!("milter from {}: {}", peer.ip(), examined.names);
        let edits = veilpost_verdict::edits::edits(&t.data, &examined.data);
        let mut out = ModificationResponse::builder();
        for (name, index, value) in &edits.change {
            out.push(ChangeHeader::new(
                *index,
                name.as_bytes(),
                &if value.is_empty() {
                    Vec::new()
                } else {
                    self.value_out(value)
                },
            ));
        }
        for (i, (name, value)) in edits.prepend.iter().enumerate() {
            out.push(InsertHeader::new(
                u32::try_from(i).unwrap_or(u32::MAX),
                name.as_bytes(),
                &self.value_out(value),
            ));
        }
        for (name, value) in &edits.append {
            out.push(AddHeader::new(name.as_bytes(), &self.value_out(value)));
        }
        if let Some(body) = &edits.body {
            // Several replies make one body. Small ones: every client takes them
            // (libmilter reads 64 KiB at a time, OpenDKIM's miltertest 1 KiB).
            for chunk in body.chunks(BODY_CHUNK) {
                out.push(ReplaceBody::new(chunk));
            }
        }
        out.build(Continue)
    }

    /// Veilpost could not decide: 451 when failing closed, else on unchecked and marked.
    fn undecided(&self, refusal: &Refusal) -> ModificationResponse {
        if self.settings.fail_closed {
            return refuse(refusal);
        }
        tracing::warn!("milter: passing a message on unchecked (milter.fail_closed = false)");
        let mut out = ModificationResponse::builder();
        out.push(InsertHeader::new(
            0,
            b"X-Veilpost-Verdict",
            &self.value_out("unchecked"),
        ));
        out.build(Continue)
    }
}

/// A refusal as Postfix passes it to the sender.
fn refuse(refusal: &Refusal) -> ModificationResponse {
    ModificationResponse::builder().build(reply(refusal))
}

/// `(550, "5.7.1", text)` as a milter reply code (digits apart); an odd code is a 451.
fn reply((code, enhanced, text): &Refusal) -> Replycode {
    let digits = |n: u16| [(n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8];
    let enhanced: Vec<u16> = enhanced.split('.').filter_map(|p| p.parse().ok()).collect();
    // Reply text is one line without the milter's own separators.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match (code, enhanced.as_slice()) {
        (400..=599, [a, b, c]) if *a == code / 100 => {
            Replycode::new(digits(*code), [*a, *b, *c], &text)
        }
        _ => {
            let (code, enhanced, text) = temporary();
            Replycode::new(digits(code), [4, 3, 0], &format!("{enhanced} {text}"))
        }
    }
}

#[async_trait::async_trait]
impl miltr_server::Milter for Session {
    type Error = std::convert::Infallible;

    async fn option_negotiation(
        &mut self,
        theirs: OptNeg,
    ) -> Result<OptNeg, miltr_server::Error<Self::Error>> {
        // Header values with their leading space, when Postfix offers it: the message is
        // put back together byte for byte (DKIM's simple canonicalisation needs that).
        let ours = OptNeg {
            protocol: Protocol::SMFIP_HDR_LEADSPC,
            ..OptNeg::default()
        };
        let merged = ours
            .merge_compatible(&theirs)
            .map_err(miltr_common::ProtocolError::CompatibilityError)?;
        self.leading_space = merged.protocol.contains(Protocol::SMFIP_HDR_LEADSPC);
        Ok(merged)
    }

    async fn connect(&mut self, connect: Connect) -> Result<Action, Self::Error> {
        self.client = connect.address().parse().ok();
        Ok(Continue.into())
    }

    async fn helo(&mut self, helo: Helo) -> Result<Action, Self::Error> {
        self.helo = helo.helo().chars().take(255).collect();
        Ok(Continue.into())
    }

    async fn mail(&mut self, mail: Mail) -> Result<Action, Self::Error> {
        self.message = Message {
            mail_from: strip_angles(&mail.sender()),
            ..Message::default()
        };
        Ok(Continue.into())
    }

    async fn rcpt(&mut self, recipient: Recipient) -> Result<Action, Self::Error> {
        if self.message.rcpt_to.len() < self.settings.max_recipients {
            self.message
                .rcpt_to
                .push(strip_angles(&recipient.recipient()));
        }
        Ok(Continue.into())
    }

    async fn header(&mut self, header: Header) -> Result<Action, Self::Error> {
        let value = header.value();
        let value = if self.leading_space {
            value.to_string()
        } else {
            format!(" {value}")
        };
        // Folded lines come with bare LFs; the message is kept with CRLF.
        let field = format!(
            "{}:{}\r\n",
            header.name(),
            value.replace("\r\n", "\n").replace('\n', "\r\n")
        );
        self.take(field.as_bytes());
        Ok(Continue.into())
    }

    async fn end_of_header(&mut self) -> Result<Action, Self::Error> {
        self.message.header_done = true;
        self.take(b"\r\n");
        Ok(Continue.into())
    }

    async fn body(&mut self, body: Body) -> Result<Action, Self::Error> {
        self.take(body.as_bytes());
        Ok(Continue.into())
    }

    async fn end_of_body(&mut self) -> Result<ModificationResponse, Self::Error> {
        if !self.message.header_done {
            self.take(b"\r\n");
        }
        Ok(self.answer().await)
    }

    async fn abort(&mut self) -> Result<(), Self::Error> {
        self.message = Message::default();
        Ok(())
    }
}

/// `<a@b.nl>` as `a@b.nl` (Postfix sends envelope addresses in angle brackets).
fn strip_angles(address: &str) -> String {
    let a = address.trim();
    a.strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(a)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_become_milter_reply_codes() {
        let r = reply(&(550, "5.7.1".into(), "Message refused\r\n(x)".into()));
        assert_eq!(r.rcode().code(), [5, 5, 0]);
        assert_eq!(r.xcode().as_ref().map(|x| x.code()), Some([5, 7, 1]));
        assert_eq!(r.message(), "Message refused  (x)");
        // A mismatched or malformed enhanced code is no licence to refuse for good.
        for odd in [(550, "4.7.1"), (550, "5.7"), (250, "2.0.0"), (999, "9.9.9")] {
            let r = reply(&(odd.0, odd.1.into(), "x".into()));
            assert_eq!(r.rcode().code(), [4, 5, 1], "{odd:?}");
        }
    }

    #[test]
    fn envelope_addresses_lose_their_angles() {
        assert_eq!(strip_angles("<a@b.nl>"), "a@b.nl");
        assert_eq!(strip_angles(" <> "), "");
        assert_eq!(strip_angles("a@b.nl"), "a@b.nl");
        assert_eq!(strip_angles("<a@b.nl"), "<a@b.nl");
    }
}
