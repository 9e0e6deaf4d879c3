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
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::Instrument;
use veilpost_smtp::Refusal;
use veilpost_smtp::milter::{Action, Changes, Judge, MilterLimits, MilterSession, Reply};
use veilpost_verdict::Action as Verdict;

use super::inbound::InboundBackend;

/// How long a milter connection may stay silent (Postfix keeps it for the SMTP session,
/// which it ends after its own `smtpd_timeout` of 300 s).
const IDLE: Duration = Duration::from_secs(600);

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
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        // Replies are small and the edits at the end of a message come in several
        // frames: without this, Nagle holds the next one until the MTA's delayed ACK.
        let _ = socket.set_nodelay(true);
        let (backend, settings) = (backend.clone(), settings.clone());
        // Every line of the connection names the MTA that asks.
        let span = tracing::info_span!("milter", remote = %peer);
        tokio::spawn(
            async move {
                let _slot = slot;
                if let Err(e) = drive(socket, &backend, &settings).await {
                    tracing::warn!("milter connection from {peer}: {e}");
                }
            }
            .instrument(span),
        );
    }
}

/// The listener's settings, from the configuration.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub limits: MilterLimits,
    pub max_connections: usize,
    pub fail_closed: bool,
}

/// One milter connection: bytes to the session, its replies back, its messages judged.
async fn drive(
    mut socket: TcpStream,
    backend: &InboundBackend,
    settings: &Settings,
) -> std::io::Result<()> {
    let mut session = MilterSession::new(settings.limits);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::time::timeout(IDLE, socket.read(&mut buffer))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        if n == 0 {
            return Ok(());
        }
        let mut pending = session.feed(&buffer[..n]);
        let mut answered = false;
        while !pending.is_empty() {
            let mut next = Vec::new();
            for action in pending {
                match action {
                    Action::Send(bytes) => {
                        socket.write_all(&bytes).await?;
                        answered = true;
                    }
                    Action::Judge(judge) => {
                        let reply = decide(backend, settings, judge).await;
                        next.extend(session.answer(reply));
                    }
                    Action::Close => return Ok(()),
                }
            }
            pending = next;
        }
        // With no reply to anything before the end of a message, the MTA streams small
        // frames and an ACK has nothing to ride on; an MTA that does not set TCP_NODELAY
        // (Postfix) then holds its next frame until our delayed ACK, 40 ms later. Asking
        // for a quick ACK sends the pending one now (Linux clears the flag by itself, so
        // it is asked for after each silent read).
        #[cfg(target_os = "linux")]
        if !answered {
            let _ = socket.set_quickack(true);
        }
    }
}

/// The verdict on a whole message, as the milter's answer.
async fn decide(backend: &InboundBackend, settings: &Settings, judge: Judge) -> Reply {
    let t = judge.transaction;
    // Mail for no one of ours is not inbound (staff mail on its way out through a Postfix
    // that asks for everything): Veilpost sees it as the relayhost.
    if !t.rcpt_to.iter().any(|r| backend.takes(r)) {
        return Reply::Continue(Changes::default());
    }
    // A local submission (no client address) is judged as from nowhere: SPF fails
    // closed rather than vouching for it.
    let peer = SocketAddr::new(judge.client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), 0);
    let examined = match backend.examine(&t, peer, None).await {
        Ok(examined) => examined,
        Err(refusal) if refusal.0 >= 500 => return Reply::Refuse(refusal),
        Err(refusal) => return undecided(settings, refusal),
    };
    if examined.verdict.action == Verdict::Quarantine {
        // Ours now, durably, before Postfix tells the sender 250; its copy goes.
        return match backend.spool(&t, peer, examined.data).await {
            Ok(id) => {
                backend.remember(examined.keys);
                tracing::info!(
                    queue_id = %id,
                    message_id = veilpost_store::header_message_id(&t.data).as_deref(),
                    client = %peer.ip(),
                    verdict = %examined.names,
                    "milter quarantined"
                );
                Reply::Discard
            }
            Err(refusal) => undecided(settings, refusal),
        };
    }
    backend.remember(examined.keys);
    tracing::info!(
        message_id = veilpost_store::header_message_id(&t.data).as_deref(),
        client = %peer.ip(),
        verdict = %examined.names,
        "milter passed"
    );
    backend.take_report_copy(&t, &examined.data).await;
    let e = veilpost_verdict::edits::edits(&t.data, &examined.data);
    Reply::Continue(Changes {
        change: e.change,
        prepend: e.prepend,
        append: e.append,
        body: e.body,
    })
}

/// Veilpost could not decide: 451 when failing closed, else on unchecked and marked.
fn undecided(settings: &Settings, refusal: Refusal) -> Reply {
    if settings.fail_closed {
        return Reply::Refuse(refusal);
    }
    tracing::warn!("milter: passing a message on unchecked (milter.fail_closed = false)");
    Reply::Continue(Changes {
        prepend: vec![("X-Veilpost-Verdict".into(), "unchecked".into())],
        ..Changes::default()
    })
}
