//! The SMTP listener: accepts connections, drives a [`Session`] over the socket (plain,
//! then TLS after STARTTLS), performs its actions through a [`Backend`], and enforces
//! time limits and a connection limit.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::session::{Action, Limits, Peer, Recipient, Session, Transaction};

/// A refusal: SMTP code, enhanced status code, text.
pub type Refusal = (u16, String, String);

/// What the server needs from the rest of Veilpost.
pub trait Backend: Clone + Send + Sync + 'static {
    /// May this client relay without AUTH?
    fn trusted(&self, ip: IpAddr) -> bool;
    /// Check a login; the canonical account name when it is right and active.
    fn authenticate(
        &self,
        user: String,
        password: String,
        ip: IpAddr,
    ) -> impl Future<Output = Option<String>> + Send;
    /// May `user` send with this reverse path?
    fn sender_allowed(&self, user: String, mail_from: String) -> impl Future<Output = bool> + Send;
    /// What to do with a recipient (only asked with `Limits::check_recipients`).
    fn recipient(&self, address: String) -> impl Future<Output = Recipient> + Send {
        let _ = address;
        async { Recipient::Accept }
    }
    /// Store the message durably (or refuse it); the queue id.
    fn deliver(
        &self,
        transaction: Transaction,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<String, Refusal>> + Send;
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Time to wait for a command (RFC 5321 §4.5.3.2: at least 5 minutes).
    pub command_timeout: Duration,
    /// Time to wait for each piece of message data.
    pub data_timeout: Duration,
    /// Most connections at once.
    pub max_connections: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            max_connections: 256,
        }
    }
}

/// Accept connections until the listener fails.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    settings: Arc<Settings>,
    tls: Option<TlsAcceptor>,
    backend: B,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("smtp accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut s = stream;
                let _ = s
                    .write_all(b"421 4.7.0 Too many connections, try again later\r\n")
                    .await;
            });
            continue;
        };
        let (settings, tls, backend) = (settings.clone(), tls.clone(), backend.clone());
        // Every line of the connection (and of the backend's work for it) names the peer.
        let span = tracing::info_span!("smtp", remote = %addr);
        tokio::spawn(
            async move {
                if let Err(e) = connection(stream, addr, &settings, tls, backend).await {
                    tracing::debug!("smtp {addr}: {e}");
                }
                drop(permit);
            }
            .instrument(span),
        );
    }
}

enum Next<S> {
    Done,
    StartTls(S),
}

async fn connection<B: Backend>(
    stream: TcpStream,
    addr: SocketAddr,
    settings: &Settings,
    tls: Option<TlsAcceptor>,
    backend: B,
) -> std::io::Result<()> {
    let peer = Peer {
        tls_available: tls.is_some(),
        trusted: backend.trusted(addr.ip()),
    };
    let mut session = Session::new(settings.limits.clone(), peer);
    let mut stream = stream;
    stream.write_all(&session.greeting()).await?;
    match drive(&mut stream, &mut session, addr, settings, &backend).await? {
        Next::Done => Ok(()),
        Next::StartTls(()) => {
            let Some(acceptor) = tls else {
                return Ok(());
            };
            let handshake = acceptor.accept(stream);
            let mut tls_stream = tokio::time::timeout(settings.command_timeout, handshake)
                .await
                .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
            session.tls_started();
            drive(&mut tls_stream, &mut session, addr, settings, &backend).await?;
            let _ = tls_stream.shutdown().await;
            Ok(())
        }
    }
}

async fn drive<S: AsyncRead + AsyncWrite + Unpin, B: Backend>(
    stream: &mut S,
    session: &mut Session,
    addr: SocketAddr,
    settings: &Settings,
    backend: &B,
) -> std::io::Result<Next<()>> {
    // 16 KiB (a TLS record's worth): freeing a 64 KiB buffer made glibc's allocator
    // consolidate its free lists at the end of every connection.
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<Action> = Vec::new();
    loop {
        // Perform actions; results may produce more actions.
        while !pending.is_empty() {
            let actions = std::mem::take(&mut pending);
            let mut out: Vec<u8> = Vec::new();
            for action in actions {
                match action {
                    Action::Send(bytes) => out.extend_from_slice(&bytes),
                    Action::Close => {
                        stream.write_all(&out).await?;
                        stream.flush().await?;
                        return Ok(Next::Done);
                    }
                    Action::StartTls => {
                        stream.write_all(&out).await?;
                        stream.flush().await?;
                        return Ok(Next::StartTls(()));
                    }
                    Action::Authenticate { user, password } => {
                        stream.write_all(&out).await?;
                        out.clear();
                        let result = backend.authenticate(user, password, addr.ip()).await;
                        pending.extend(session.auth_result(result));
                    }
                    Action::CheckSender { user, mail_from } => {
                        let ok = backend.sender_allowed(user, mail_from).await;
                        pending.extend(session.sender_result(ok));
                    }
                    Action::CheckRecipient { address } => {
                        let answer = backend.recipient(address).await;
                        pending.extend(session.recipient_result(answer));
                    }
                    Action::Deliver(t) => {
                        stream.write_all(&out).await?;
                        out.clear();
                        let result = backend.deliver(t, addr).await;
                        pending.extend(session.deliver_result(result));
                    }
                }
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
            }
        }
        stream.flush().await?;
        if session.is_closed() {
            return Ok(Next::Done);
        }
        let wait = if session.in_data() {
            settings.data_timeout
        } else {
            settings.command_timeout
        };
        let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                let _ = stream
                    .write_all(b"421 4.4.2 Timeout, closing connection\r\n")
                    .await;
                return Ok(Next::Done);
            }
        };
        if n == 0 {
            return Ok(Next::Done);
        }
        pending = session.feed(&buf[..n]);
    }
}
