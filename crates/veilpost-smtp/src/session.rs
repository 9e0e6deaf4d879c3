//! The SMTP server session as a state machine without I/O: bytes in, actions out.
//! Requests are parsed by smtp-proto; this module owns the order of commands, the
//! extensions offered, authentication (PLAIN and LOGIN, only over TLS), relay rules and
//! limits. The I/O layer performs the actions that need the outside world (checking a
//! password, spooling a message) and feeds the results back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, Error as ProtoError, MAIL_SMTPUTF8, Request};

/// Fixed settings of a listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Host name in the greeting and EHLO.
    pub hostname: String,
    /// Largest message in bytes (SIZE).
    pub max_message_size: usize,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Bad commands before the connection is closed.
    pub max_errors: usize,
    /// Longest AUTH continuation line.
    pub max_auth_line: usize,
    /// Ask the backend about every recipient ([`Action::CheckRecipient`]): addresses of
    /// people who left are refused or forwarded.
    pub check_recipients: bool,
    /// Offer and take AUTH (submission); an MX listener does not.
    pub offer_auth: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hostname: "localhost".into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            max_auth_line: 4096,
            check_recipients: false,
            offer_auth: true,
        }
    }
}

/// What the client may do, decided by the I/O layer per connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peer {
    /// STARTTLS can be offered (a certificate is configured and TLS is not yet on).
    pub tls_available: bool,
    /// The client is in a trusted network: it may relay without AUTH.
    pub trusted: bool,
}

/// A message the client finished sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub auth_user: Option<String>,
    pub tls: bool,
    pub smtputf8: bool,
    pub data: Vec<u8>,
}

/// What the I/O layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the client.
    Send(Vec<u8>),
    /// The 220 went out: start TLS now, then call [`Session::tls_started`].
    StartTls,
    /// Check these credentials, then call [`Session::auth_result`].
    Authenticate { user: String, password: String },
    /// May this authenticated user use this reverse path? Answer with
    /// [`Session::sender_result`].
    CheckSender { user: String, mail_from: String },
    /// What about this recipient? Answer with [`Session::recipient_result`].
    CheckRecipient { address: String },
    /// Store the message, then call [`Session::deliver_result`].
    Deliver(Transaction),
    /// Close the connection (after sending what came before).
    Close,
}

/// The backend's answer about a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Accept,
    /// Deliver to this address instead (a leaver's successor).
    Forward(String),
    /// Refuse with this code, enhanced code and text.
    Refuse((u16, String, String)),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before EHLO/HELO.
    Fresh,
    /// After EHLO/HELO, no transaction.
    Ready,
    /// After MAIL FROM.
    Mail,
    /// Receiving DATA.
    Data,
    /// AUTH LOGIN waiting for the user name, or PLAIN waiting for the response.
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword(String),
    /// Waiting for the I/O layer (auth, sender check, spool, STARTTLS).
    Waiting,
    Closed,
}

/// One SMTP session.
pub struct Session {
    limits: Limits,
    peer: Peer,
    state: State,
    input: Vec<u8>,
    receiver: RequestReceiver,
    data: Option<DataReceiver>,
    message: Vec<u8>,
    oversized: bool,
    skip_line: bool,
    errors: usize,
    tls: bool,
    esmtp: bool,
    helo: String,
    user: Option<String>,
    mail_from: String,
    smtputf8: bool,
    rcpt_to: Vec<String>,
    /// What to do when the pending sender check passes.
    pending_mail: Option<(String, bool)>,
    pending_rcpt: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn reply(code: u16, esc: &str, text: &str) -> Action {
    Action::Send(format!("{code} {esc} {text}\r\n").into_bytes())
}

/// Lower-case the domain part; keep the local part as given, quoted again when it is not
/// a dot-atom (smtp-proto hands it over unquoted: `"j. de vries"` arrives as
/// `j. de vries`, which is another address, or none, without its quotes).
fn normalise(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{}", quote_local(local), domain.to_ascii_lowercase()),
        None => address.to_string(),
    }
}

/// A local part as RFC 5321 writes it: as is when it is a dot-atom, else quoted with
/// `\` before `"` and `\`.
fn quote_local(local: &str) -> String {
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let dot_atom = !local.is_empty()
        && local
            .split('.')
            .all(|w| !w.is_empty() && w.chars().all(atext));
    if dot_atom {
        return local.to_string();
    }
    let mut quoted = String::with_capacity(local.len() + 2);
    quoted.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A CR not followed by LF, or an LF not preceded by CR.
fn has_bare_line_break(data: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in data.iter().enumerate() {
        if (b == b'\n' && prev != b'\r') || (b == b'\r' && data.get(i + 1) != Some(&b'\n')) {
            return true;
        }
        prev = b;
    }
    false
}

impl Session {
    pub fn new(limits: Limits, peer: Peer) -> Session {
        Session {
            limits,
            peer,
            state: State::Fresh,
            input: Vec::new(),
            receiver: RequestReceiver::default(),
            data: None,
            message: Vec::new(),
            oversized: false,
            skip_line: false,
            errors: 0,
            tls: false,
            esmtp: false,
            helo: String::new(),
            user: None,
            mail_from: String::new(),
            smtputf8: false,
            rcpt_to: Vec::new(),
            pending_mail: None,
            pending_rcpt: None,
        }
    }

    /// The greeting to send first.
    pub fn greeting(&self) -> Vec<u8> {
        format!("220 {} ESMTP Veilpost\r\n", self.limits.hostname).into_bytes()
    }

    /// The session ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Waiting for the I/O layer's answer.
    pub fn is_waiting(&self) -> bool {
        self.state == State::Waiting
    }

    /// Receiving message data (for the I/O layer's data timeout).
    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Feed bytes from the client; returns what to do. Input that arrives while the
    /// session waits is kept and processed on the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Action> {
        self.input.extend_from_slice(bytes);
        self.run()
    }

    fn run(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        let mut consumed = 0;
        let input = std::mem::take(&mut self.input);
        while consumed < input.len() {
            if matches!(self.state, State::Waiting | State::Closed) {
                break;
            }
            let rest = &input[consumed..];
            let (used, mut actions) = self.step(rest);
            consumed += used;
            let stop = actions
                .iter()
                .any(|a| matches!(a, Action::Close | Action::StartTls));
            out.append(&mut actions);
            if stop {
                // Anything pipelined after STARTTLS must be discarded (RFC 3207 §4.2);
                // after a close nothing matters.
                consumed = input.len();
                break;
            }
            if used == 0 {
                break;
            }
        }
        self.input = input;
        self.input.drain(..consumed);
        if self.input.len() > self.limits.max_auth_line.max(16 * 1024) && !self.in_data() {
            // A client that floods us while we wait.
            self.input.clear();
            self.state = State::Closed;
            out.push(reply(421, "4.7.0", "Too much pipelined input"));
            out.push(Action::Close);
        }
        out
    }

    /// Process some of `rest`; returns the bytes used.
    fn step(&mut self, rest: &[u8]) -> (usize, Vec<Action>) {
        match self.state.clone() {
            State::Data => self.step_data(rest),
            State::AuthPlain | State::AuthLoginUser | State::AuthLoginPassword(_) => {
                self.step_auth_line(rest)
            }
            _ => self.step_command(rest),
        }
    }

    fn step_data(&mut self, rest: &[u8]) -> (usize, Vec<Action>) {
        let Some(receiver) = self.data.as_mut() else {
            self.state = State::Ready;
            return (0, Vec::new());
        };
        let mut iter = rest.iter();
        let done = receiver.ingest(&mut iter, &mut self.message);
        let used = rest.len() - iter.as_slice().len();
        if self.message.len() > self.limits.max_message_size {
            // Keep reading to the end, but keep nothing.
            self.oversized = true;
            self.message.clear();
            self.message.shrink_to(64 * 1024);
        }
        if !done {
            return (used, Vec::new());
        }
        self.data = None;
        if self.oversized {
            self.oversized = false;
            self.reset_transaction();
            self.state = State::Ready;
            return (
                used,
                vec![reply(
                    552,
                    "5.3.4",
                    &format!(
                        "Message too big (limit {} bytes)",
                        self.limits.max_message_size
                    ),
                )],
            );
        }
        if has_bare_line_break(&self.message) {
            // A bare CR or LF is where another server may see an end of data that this
            // one did not: the text after it could be relayed as a second, forged
            // message (SMTP smuggling). Refuse the whole message.
            self.message.clear();
            self.reset_transaction();
            self.state = State::Ready;
            return (
                used,
                vec![reply(
                    550,
                    "5.6.11",
                    "Bare CR or LF in message data; lines must end with CRLF",
                )],
            );
        }
        let t = Transaction {
            helo: self.helo.clone(),
            mail_from: std::mem::take(&mut self.mail_from),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            auth_user: self.user.clone(),
            tls: self.tls,
            smtputf8: self.smtputf8,
            data: std::mem::take(&mut self.message),
        };
        self.smtputf8 = false;
        self.state = State::Waiting;
        (used, vec![Action::Deliver(t)])
    }

    fn take_line(rest: &[u8], max: usize) -> Option<Result<(usize, &[u8]), usize>> {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= max => {
                let line = &rest[..i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                Some(Ok((i + 1, line)))
            }
            Some(i) => Some(Err(i + 1)),
            None if rest.len() > max => Some(Err(0)),
            None => None,
        }
    }

    fn step_auth_line(&mut self, rest: &[u8]) -> (usize, Vec<Action>) {
        let (used, line) = match Self::take_line(rest, self.limits.max_auth_line) {
            None => return (0, Vec::new()),
            Some(Err(used)) => {
                self.state = State::Ready;
                self.skip_line = used == 0;
                return (
                    if used == 0 { rest.len() } else { used },
                    vec![reply(500, "5.5.6", "Authentication line too long")],
                );
            }
            Some(Ok(x)) => x,
        };
        if line == b"*" {
            self.state = State::Ready;
            return (used, vec![reply(501, "5.0.0", "Authentication cancelled")]);
        }
        let Ok(decoded) = STANDARD.decode(line.trim_ascii()) else {
            self.state = State::Ready;
            return (used, vec![reply(501, "5.5.2", "Invalid base64")]);
        };
        match self.state.clone() {
            State::AuthPlain => (used, self.plain_credentials(&decoded)),
            State::AuthLoginUser => {
                let user = String::from_utf8_lossy(&decoded).into_owned();
                self.state = State::AuthLoginPassword(user);
                // "Password:"
                (used, vec![Action::Send(b"334 UGFzc3dvcmQ6\r\n".to_vec())])
            }
            State::AuthLoginPassword(user) => {
                let password = String::from_utf8_lossy(&decoded).into_owned();
                self.state = State::Waiting;
                (used, vec![Action::Authenticate { user, password }])
            }
            _ => (used, Vec::new()),
        }
    }

    /// authzid NUL authcid NUL password (RFC 4616).
    fn plain_credentials(&mut self, decoded: &[u8]) -> Vec<Action> {
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        if parts.len() != 3 || parts[1].is_empty() {
            self.state = State::Ready;
            return vec![reply(501, "5.5.2", "Malformed PLAIN response")];
        }
        let authzid = String::from_utf8_lossy(parts[0]);
        let user = String::from_utf8_lossy(parts[1]).into_owned();
        if !authzid.is_empty() && authzid != user {
            self.state = State::Ready;
            return vec![reply(535, "5.7.8", "Authentication credentials invalid")];
        }
        self.state = State::Waiting;
        vec![Action::Authenticate {
            user,
            password: String::from_utf8_lossy(parts[2]).into_owned(),
        }]
    }

    fn error(&mut self, code: u16, esc: &str, text: &str) -> Vec<Action> {
        self.errors += 1;
        if self.errors >= self.limits.max_errors {
            self.state = State::Closed;
            return vec![
                reply(code, esc, text),
                reply(421, "4.7.0", "Too many errors, closing"),
                Action::Close,
            ];
        }
        vec![reply(code, esc, text)]
    }

    fn step_command(&mut self, rest: &[u8]) -> (usize, Vec<Action>) {
        if self.skip_line {
            return match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skip_line = false;
                    (i + 1, Vec::new())
                }
                None => (rest.len(), Vec::new()),
            };
        }
        let mut iter = rest.iter();
        let parsed = self.receiver.ingest(&mut iter).map(Request::into_owned);
        let used = rest.len() - iter.as_slice().len();
        let actions = match parsed {
            Ok(request) => self.command(request),
            Err(ProtoError::NeedsMoreData { .. }) => Vec::new(),
            Err(ProtoError::ResponseTooLong) => {
                self.skip_line = true;
                self.error(500, "5.5.2", "Line too long")
            }
            Err(ProtoError::UnknownCommand) => self.error(500, "5.5.1", "Unknown command"),
            Err(ProtoError::InvalidSenderAddress) => {
                self.error(501, "5.1.7", "Invalid sender address")
            }
            Err(ProtoError::InvalidRecipientAddress) => {
                self.error(501, "5.1.3", "Invalid recipient address")
            }
            Err(ProtoError::SyntaxError { syntax }) => {
                self.error(501, "5.5.2", &format!("Syntax: {syntax}"))
            }
            Err(ProtoError::InvalidParameter { param }) => {
                self.error(501, "5.5.4", &format!("Invalid parameter {param}"))
            }
            Err(ProtoError::UnsupportedParameter { param }) => {
                let param: String = param
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(40)
                    .collect();
                self.error(555, "5.5.4", &format!("Unsupported parameter {param}"))
            }
            Err(ProtoError::InvalidResponse { .. }) => self.error(500, "5.5.2", "Syntax error"),
        };
        (used, actions)
    }

    fn ehlo_reply(&self) -> Vec<u8> {
        let mut lines = vec![format!("{} Hello {}", self.limits.hostname, self.helo)];
        lines.push("PIPELINING".into());
        lines.push(format!("SIZE {}", self.limits.max_message_size));
        lines.push("8BITMIME".into());
        lines.push("SMTPUTF8".into());
        lines.push("ENHANCEDSTATUSCODES".into());
        if self.peer.tls_available && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.tls && self.user.is_none() && self.limits.offer_auth {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("250{sep}{l}\r\n"));
        }
        out.into_bytes()
    }

    fn reset_transaction(&mut self) {
        self.mail_from.clear();
        self.rcpt_to.clear();
        self.message.clear();
        self.smtputf8 = false;
        self.data = None;
    }

    fn command(&mut self, request: Request<String>) -> Vec<Action> {
        match request {
            Request::Ehlo { host } | Request::Lhlo { host } => {
                self.reset_transaction();
                self.helo = host;
                self.esmtp = true;
                self.state = State::Ready;
                vec![Action::Send(self.ehlo_reply())]
            }
            Request::Helo { host } => {
                self.reset_transaction();
                self.helo = host;
                self.esmtp = false;
                self.state = State::Ready;
                vec![Action::Send(
                    format!("250 {} Hello {}\r\n", self.limits.hostname, self.helo).into_bytes(),
                )]
            }
            Request::StartTls => {
                if self.tls {
                    return self.error(503, "5.5.1", "TLS already active");
                }
                if !self.peer.tls_available {
                    return self.error(502, "5.5.1", "STARTTLS not available");
                }
                // RFC 3207: forget everything known from before TLS.
                self.reset_transaction();
                self.helo.clear();
                self.state = State::Waiting;
                vec![reply(220, "2.0.0", "Ready to start TLS"), Action::StartTls]
            }
            Request::Auth { .. } if !self.limits.offer_auth => {
                self.error(503, "5.5.1", "AUTH is not offered here")
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Request::Mail { from } => {
                if self.state == State::Fresh {
                    return self.error(503, "5.5.1", "Send EHLO first");
                }
                if self.state == State::Mail {
                    return self.error(503, "5.5.1", "Nested MAIL command");
                }
                if self.user.is_none() && !self.peer.trusted {
                    return self.error(530, "5.7.0", "Authentication required");
                }
                if from.size > self.limits.max_message_size {
                    return self.error(
                        552,
                        "5.3.4",
                        &format!(
                            "Message too big (limit {} bytes)",
                            self.limits.max_message_size
                        ),
                    );
                }
                let address = normalise(&from.address);
                let utf8 = from.flags & MAIL_SMTPUTF8 != 0;
                if !address.is_ascii() && !utf8 {
                    return self.error(553, "5.6.7", "Non-ASCII address needs SMTPUTF8");
                }
                match &self.user {
                    Some(user) => {
                        self.state = State::Waiting;
                        self.pending_mail = Some((address.clone(), utf8));
                        vec![Action::CheckSender {
                            user: user.clone(),
                            mail_from: address,
                        }]
                    }
                    None => self.accept_mail(address, utf8),
                }
            }
            Request::Rcpt { to } => {
                if self.state != State::Mail {
                    return self.error(503, "5.5.1", "Send MAIL first");
                }
                if self.rcpt_to.len() >= self.limits.max_recipients {
                    return vec![reply(452, "4.5.3", "Too many recipients")];
                }
                let address = normalise(&to.address);
                if !address.contains('@') || address.starts_with('@') || address.ends_with('@') {
                    return self.error(501, "5.1.3", "Recipient must be a full address");
                }
                if !address.is_ascii() && !self.smtputf8 {
                    return self.error(553, "5.6.7", "Non-ASCII address needs SMTPUTF8");
                }
                if self.user.is_none() && !self.peer.trusted {
                    return self.error(554, "5.7.1", "Relay access denied");
                }
                if self.limits.check_recipients {
                    self.state = State::Waiting;
                    self.pending_rcpt = Some(address.clone());
                    return vec![Action::CheckRecipient { address }];
                }
                self.add_recipient(address)
            }
            Request::Data => {
                if self.state != State::Mail || self.rcpt_to.is_empty() {
                    return self.error(503, "5.5.1", "Need MAIL and RCPT first");
                }
                self.state = State::Data;
                self.data = Some(DataReceiver::new());
                self.message.clear();
                vec![Action::Send(
                    b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec(),
                )]
            }
            Request::Bdat { .. } => self.error(502, "5.5.1", "CHUNKING not offered"),
            Request::Rset => {
                self.reset_transaction();
                if self.state != State::Fresh {
                    self.state = State::Ready;
                }
                vec![reply(250, "2.0.0", "Reset")]
            }
            Request::Noop { .. } => vec![reply(250, "2.0.0", "OK")],
            Request::Quit => {
                self.state = State::Closed;
                vec![reply(221, "2.0.0", "Bye"), Action::Close]
            }
            Request::Vrfy { .. } | Request::Expn { .. } => {
                vec![reply(252, "2.5.2", "Cannot verify, but will try delivery")]
            }
            Request::Help { .. } => vec![reply(214, "2.0.0", "See RFC 5321")],
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                self.error(502, "5.5.1", "Command not implemented")
            }
        }
    }

    fn accept_mail(&mut self, address: String, utf8: bool) -> Vec<Action> {
        self.mail_from = address;
        self.smtputf8 = utf8;
        self.rcpt_to.clear();
        self.state = State::Mail;
        vec![reply(250, "2.1.0", "Sender ok")]
    }

    fn auth(&mut self, mechanism: u64, initial: String) -> Vec<Action> {
        if self.state == State::Fresh {
            return self.error(503, "5.5.1", "Send EHLO first");
        }
        if !self.tls {
            return self.error(538, "5.7.11", "Encryption required for authentication");
        }
        if self.user.is_some() {
            return self.error(503, "5.5.1", "Already authenticated");
        }
        if self.state == State::Mail {
            return self.error(503, "5.5.1", "AUTH not allowed during a transaction");
        }
        let initial = initial.trim();
        match mechanism {
            AUTH_PLAIN if initial.is_empty() => {
                self.state = State::AuthPlain;
                vec![Action::Send(b"334 \r\n".to_vec())]
            }
            AUTH_PLAIN => {
                let decoded = if initial == "=" {
                    Ok(Vec::new())
                } else {
                    STANDARD.decode(initial)
                };
                match decoded {
                    Ok(d) => self.plain_credentials(&d),
                    Err(_) => self.error(501, "5.5.2", "Invalid base64"),
                }
            }
            AUTH_LOGIN if initial.is_empty() => {
                self.state = State::AuthLoginUser;
                // "Username:"
                vec![Action::Send(b"334 VXNlcm5hbWU6\r\n".to_vec())]
            }
            AUTH_LOGIN => match STANDARD.decode(initial) {
                Ok(user) => {
                    self.state =
                        State::AuthLoginPassword(String::from_utf8_lossy(&user).into_owned());
                    vec![Action::Send(b"334 UGFzc3dvcmQ6\r\n".to_vec())]
                }
                Err(_) => self.error(501, "5.5.2", "Invalid base64"),
            },
            _ => self.error(504, "5.5.4", "Mechanism not supported"),
        }
    }

    /// The TLS handshake finished.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.state = State::Fresh;
        self.input.clear();
        self.receiver = RequestReceiver::default();
    }

    /// The answer to [`Action::Authenticate`]: the account name, or `None` to refuse.
    pub fn auth_result(&mut self, user: Option<String>) -> Vec<Action> {
        self.state = State::Ready;
        let mut out = match user {
            Some(u) => {
                self.user = Some(u);
                vec![reply(235, "2.7.0", "Authentication successful")]
            }
            None => self.error(535, "5.7.8", "Authentication credentials invalid"),
        };
        out.extend(self.run());
        out
    }

    /// The answer to [`Action::CheckSender`].
    pub fn sender_result(&mut self, allowed: bool) -> Vec<Action> {
        self.state = State::Ready;
        let (address, utf8) = self.pending_mail.take().unwrap_or_default();
        let mut out = if allowed {
            self.accept_mail(address, utf8)
        } else {
            self.error(
                553,
                "5.7.1",
                "Sender address not owned by the authenticated user",
            )
        };
        out.extend(self.run());
        out
    }

    /// The answer to [`Action::CheckRecipient`].
    pub fn recipient_result(&mut self, answer: Recipient) -> Vec<Action> {
        self.state = State::Mail;
        let address = self.pending_rcpt.take().unwrap_or_default();
        let mut out = match answer {
            Recipient::Accept => self.add_recipient(address),
            Recipient::Forward(to) => self.add_recipient(to),
            Recipient::Refuse((code, esc, text)) => {
                if code >= 500 {
                    self.error(code, &esc, &text)
                } else {
                    vec![reply(code, &esc, &text)]
                }
            }
        };
        out.extend(self.run());
        out
    }

    fn add_recipient(&mut self, address: String) -> Vec<Action> {
        if !self
            .rcpt_to
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&address))
        {
            self.rcpt_to.push(address);
        }
        vec![reply(250, "2.1.5", "Recipient ok")]
    }

    /// The answer to [`Action::Deliver`]: the queue id, or the reply to give instead
    /// (a 4xx or 5xx line without CRLF).
    pub fn deliver_result(&mut self, result: Result<String, (u16, String, String)>) -> Vec<Action> {
        self.state = State::Ready;
        let mut out = vec![match result {
            Ok(id) => reply(250, "2.0.0", &format!("Queued as {id}")),
            Err((code, esc, text)) => reply(code, &esc, &text),
        }];
        out.extend(self.run());
        out
    }

    /// The user this session authenticated as.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Is TLS on?
    pub fn tls(&self) -> bool {
        self.tls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(actions: &[Action]) -> String {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn session(trusted: bool) -> Session {
        Session::new(
            Limits {
                hostname: "gw.test".into(),
                max_message_size: 1000,
                max_recipients: 3,
                ..Limits::default()
            },
            Peer {
                tls_available: true,
                trusted,
            },
        )
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn greeting_and_ehlo() {
        let mut s = session(false);
        assert!(String::from_utf8_lossy(&s.greeting()).starts_with("220 gw.test"));
        let r = text(&s.feed(b"EHLO client.test\r\n"));
        for ext in [
            "PIPELINING",
            "SIZE 1000",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "STARTTLS",
        ] {
            assert!(r.contains(ext), "{ext} in {r}");
        }
        assert!(!r.contains("AUTH"), "no AUTH before TLS: {r}");
        assert!(r.ends_with("250 STARTTLS\r\n"), "{r}");
    }

    #[test]
    fn no_open_relay() {
        let mut s = session(false);
        s.feed(b"EHLO c\r\n");
        let r = text(&s.feed(b"MAIL FROM:<a@b.test>\r\n"));
        assert!(r.starts_with("530 5.7.0"), "{r}");
        let r = text(&s.feed(b"RCPT TO:<x@y.test>\r\n"));
        assert!(r.starts_with("503"), "{r}");
        let r = text(&s.feed(b"AUTH PLAIN AGEAYg==\r\n"));
        assert!(r.starts_with("538 5.7.11"), "AUTH needs TLS: {r}");
    }

    #[test]
    fn recipients_checked_refused_or_forwarded() {
        let mut s = Session::new(
            Limits {
                check_recipients: true,
                ..Limits::default()
            },
            Peer {
                tls_available: false,
                trusted: true,
            },
        );
        s.feed(b"EHLO mail.org.test\r\n");
        s.feed(b"MAIL FROM:<a@ext.test>\r\n");
        let a = s.feed(b"RCPT TO:<oud@org.test>\r\nRCPT TO:<bob@org.test>\r\n");
        assert_eq!(
            a,
            vec![Action::CheckRecipient {
                address: "oud@org.test".into()
            }]
        );
        let a = s.recipient_result(Recipient::Refuse((
            550,
            "5.1.1".into(),
            "oud@org.test no longer works here; write to info@org.test".into(),
        )));
        assert!(
            text(&a).starts_with("550 5.1.1 oud@org.test no longer works here"),
            "{a:?}"
        );
        // The pipelined second RCPT is asked about next.
        assert_eq!(
            a.last(),
            Some(&Action::CheckRecipient {
                address: "bob@org.test".into()
            })
        );
        assert!(
            text(&s.recipient_result(Recipient::Forward("eva@org.test".into()))).starts_with("250")
        );
        assert!(text(&s.feed(b"DATA\r\n")).starts_with("354"));
        let a = s.feed(b"Subject: x\r\n\r\nx\r\n.\r\n");
        let Some(Action::Deliver(t)) = a.first() else {
            panic!("{a:?}");
        };
        assert_eq!(t.rcpt_to, vec!["eva@org.test".to_string()]);
    }

    #[test]
    fn trusted_network_relays() {
        let mut s = session(true);
        s.feed(b"EHLO mail.org.test\r\n");
        assert!(text(&s.feed(b"MAIL FROM:<a@org.test>\r\n")).starts_with("250"));
        assert!(text(&s.feed(b"RCPT TO:<x@ext.test>\r\n")).starts_with("250"));
        assert!(text(&s.feed(b"DATA\r\n")).starts_with("354"));
        let a = s.feed(b"Subject: hi\r\n\r\n..dot\r\n.\r\n");
        let Some(Action::Deliver(t)) = a.first() else {
            panic!("{a:?}");
        };
        assert_eq!(t.mail_from, "a@org.test");
        assert_eq!(t.rcpt_to, vec!["x@ext.test".to_string()]);
        assert_eq!(t.data, b"Subject: hi\r\n\r\n.dot\r\n");
        assert!(s.is_waiting());
        let r = text(&s.deliver_result(Ok("abc".into())));
        assert!(r.starts_with("250 2.0.0 Queued as abc"), "{r}");
    }

    /// An MX listener offers no AUTH and refuses it, even over TLS.
    #[test]
    fn an_mx_takes_no_logins() {
        let mut s = Session::new(
            Limits {
                offer_auth: false,
                ..Limits::default()
            },
            Peer {
                tls_available: true,
                trusted: true,
            },
        );
        s.feed(b"EHLO c\r\n");
        s.feed(b"STARTTLS\r\n");
        s.tls_started();
        let r = text(&s.feed(b"EHLO c\r\n"));
        assert!(r.starts_with("250") && !r.contains("AUTH"), "{r}");
        let r = text(&s.feed(format!("AUTH PLAIN {}\r\n", b64("\0a@o.test\0pw")).as_bytes()));
        assert!(r.starts_with("503 5.5.1"), "{r}");
    }

    #[test]
    fn starttls_then_auth_plain_and_login() {
        let mut s = session(false);
        s.feed(b"EHLO c\r\n");
        let a = s.feed(b"STARTTLS\r\nEHLO smuggled\r\n");
        assert!(text(&a).starts_with("220"));
        assert_eq!(a.last(), Some(&Action::StartTls));
        s.tls_started();
        let r = text(&s.feed(b"EHLO c\r\n"));
        assert!(
            r.contains("AUTH PLAIN LOGIN") && !r.contains("STARTTLS"),
            "{r}"
        );
        let a = s.feed(format!("AUTH PLAIN {}\r\n", b64("\0ann@org.test\0geheim")).as_bytes());
        assert_eq!(
            a,
            vec![Action::Authenticate {
                user: "ann@org.test".into(),
                password: "geheim".into()
            }]
        );
        let r = text(&s.auth_result(None));
        assert!(r.starts_with("535 5.7.8"), "{r}");
        // LOGIN, step by step.
        assert!(text(&s.feed(b"AUTH LOGIN\r\n")).starts_with("334 VXNlcm5hbWU6"));
        assert!(
            text(&s.feed(format!("{}\r\n", b64("ann@org.test")).as_bytes()))
                .starts_with("334 UGFzc3dvcmQ6")
        );
        let a = s.feed(format!("{}\r\n", b64("juist")).as_bytes());
        assert_eq!(
            a,
            vec![Action::Authenticate {
                user: "ann@org.test".into(),
                password: "juist".into()
            }]
        );
        assert!(text(&s.auth_result(Some("ann@org.test".into()))).starts_with("235"));
        let a = s.feed(b"MAIL FROM:<ann@org.test>\r\n");
        assert_eq!(
            a,
            vec![Action::CheckSender {
                user: "ann@org.test".into(),
                mail_from: "ann@org.test".into()
            }]
        );
        assert!(text(&s.sender_result(true)).starts_with("250"));
        assert!(text(&s.feed(b"RCPT TO:<x@ext.test>\r\n")).starts_with("250"));
    }

    #[test]
    fn sender_mismatch_and_limits() {
        let mut s = session(false);
        s.tls_started();
        s.feed(b"EHLO c\r\n");
        s.feed(format!("AUTH PLAIN {}\r\n", b64("\0ann@org.test\0pw")).as_bytes());
        s.auth_result(Some("ann@org.test".into()));
        s.feed(b"MAIL FROM:<ceo@bank.test>\r\n");
        assert!(text(&s.sender_result(false)).starts_with("553 5.7.1"));
        s.feed(b"MAIL FROM:<ann@org.test> SIZE=5000\r\n");
        let r = text(&s.feed(b"MAIL FROM:<ann@org.test> SIZE=5000\r\n"));
        assert!(r.starts_with("552 5.3.4"), "{r}");
        s.feed(b"MAIL FROM:<ann@org.test>\r\n");
        s.sender_result(true);
        for i in 0..3 {
            assert!(
                text(&s.feed(format!("RCPT TO:<r{i}@x.test>\r\n").as_bytes())).starts_with("250")
            );
        }
        assert!(text(&s.feed(b"RCPT TO:<r4@x.test>\r\n")).starts_with("452 4.5.3"));
        s.feed(b"DATA\r\n");
        let big = vec![b'x'; 2000];
        assert!(s.feed(&big).is_empty());
        let r = text(&s.feed(b"\r\n.\r\n"));
        assert!(r.starts_with("552 5.3.4"), "{r}");
        assert!(!s.is_waiting());
    }

    #[test]
    fn pipelining_and_errors() {
        let mut s = session(true);
        let r = text(&s.feed(b"EHLO c\r\nMAIL FROM:<a@o.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"));
        assert_eq!(r.matches("\r\n").count(), 7 + 1 + 2 + 1, "{r}");
        assert!(r.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"));
        let a = s.feed(b"hi\r\n.\r\nQUIT\r\n");
        assert!(matches!(a[0], Action::Deliver(_)));
        let a = s.deliver_result(Err((451, "4.3.0".into(), "Try later".into())));
        let r = text(&a);
        assert!(r.starts_with("451 4.3.0 Try later\r\n221"), "{r}");
        assert_eq!(a.last(), Some(&Action::Close));

        let mut s = session(false);
        let mut closed = false;
        for _ in 0..20 {
            if s.feed(b"BOGUS\r\n").contains(&Action::Close) {
                closed = true;
                break;
            }
        }
        assert!(closed, "too many errors close the session");
        let mut s = session(false);
        let long = vec![b'A'; 10_000];
        let r = text(&s.feed(&long));
        assert!(r.starts_with("500 5.5.2 Line too long"), "{r}");
        let r = text(&s.feed(b"AAAA\r\nNOOP\r\n"));
        assert_eq!(r, "250 2.0.0 OK\r\n");
    }

    #[test]
    fn utf8_addresses() {
        let mut s = session(true);
        s.feed(b"EHLO c\r\n");
        let r = text(&s.feed("MAIL FROM:<jos\u{e9}@o.test>\r\n".as_bytes()));
        assert!(r.starts_with("553 5.6.7"), "{r}");
        let r = text(&s.feed("MAIL FROM:<jos\u{e9}@o.test> SMTPUTF8\r\n".as_bytes()));
        assert!(r.starts_with("250"), "{r}");
        let r = text(&s.feed("RCPT TO:<z\u{fc}rich@x.test>\r\n".as_bytes()));
        assert!(r.starts_with("250"), "{r}");
    }

    #[test]
    fn hostile_clients_are_bounded() {
        // Flooding while the session waits for the I/O layer: closed, input not kept.
        let mut s = session(true);
        s.feed(b"EHLO c\r\nMAIL FROM:<a@o.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nx\r\n.\r\n");
        assert!(s.is_waiting());
        let a = s.feed(&b"NOOP\r\n".repeat(10_000));
        assert!(text(&a).starts_with("421 4.7.0"), "{a:?}");
        assert!(s.is_closed());

        // A message over the size limit: read to its end, nothing kept, 552.
        let mut s = session(true);
        s.feed(b"EHLO c\r\nMAIL FROM:<a@o.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
        for _ in 0..1000 {
            assert!(s.feed(&[b'x'; 999]).is_empty());
            s.feed(b"\r\n");
        }
        let r = text(&s.feed(b".\r\n"));
        assert!(r.starts_with("552"), "{r}");
        assert!(!s.in_data());

        // Binary garbage: errors, then the session closes; no panic.
        let mut s = session(false);
        let mut closed = false;
        for i in 0..200u32 {
            let junk: Vec<u8> = (0..64).map(|j| ((i * 31 + j * 7) % 256) as u8).collect();
            let mut line = junk;
            line.extend_from_slice(b"\r\n");
            if s.feed(&line).contains(&Action::Close) {
                closed = true;
                break;
            }
        }
        assert!(closed);
    }

    /// SMTP smuggling (issue 16, point 8): a second message hidden behind an end of data
    /// that another server would read ("\n.\r\n", "\r.\r\n", "\n.\n") is never accepted
    /// as part of a message to relay; only CRLF "." CRLF ends DATA.
    #[test]
    fn smuggled_ends_of_data_are_refused() {
        for hidden in [
            &b"\n.\r\n"[..],
            b"\r\n.\n",
            b"\n.\n",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\r.\r",
        ] {
            let mut s = session(true);
            s.feed(b"EHLO c\r\nMAIL FROM:<a@o.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
            let mut data = b"Subject: hi\r\n\r\nhello".to_vec();
            data.extend_from_slice(hidden);
            data.extend_from_slice(
                b"MAIL FROM:<ceo@o.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\nSubject: fake\r\n\r\nx\r\n.\r\n",
            );
            let a = s.feed(&data);
            assert!(
                !a.iter().any(|a| matches!(a, Action::Deliver(_))),
                "{hidden:?}: {a:?}"
            );
            let r = text(&a);
            assert!(r.starts_with("550 5.6.11"), "{hidden:?}: {r}");
            // The session goes on, with no transaction: the hidden commands were data.
            assert!(!s.in_data());
            assert!(text(&s.feed(b"RCPT TO:<d@x.test>\r\n")).starts_with("503"));
        }
        // Plain CRLF mail still goes through, dots unstuffed.
        let mut s = session(true);
        s.feed(b"EHLO c\r\nMAIL FROM:<a@o.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
        let a = s.feed(b"Subject: hi\r\n\r\n..\r\nline\r\n.\r\n");
        assert!(
            matches!(&a[..], [Action::Deliver(t)] if t.data == b"Subject: hi\r\n\r\n.\r\nline\r\n")
        );
    }

    /// Issue 16, point 14: a quoted local part (`"j. de vries"@x.test`) keeps its quotes,
    /// so the address stays what it was when it is relayed and written into headers.
    #[test]
    fn quoted_local_parts_keep_their_quotes() {
        let mut s = session(true);
        s.feed(b"EHLO c\r\nMAIL FROM:<\"a b\"@O.test>\r\n");
        s.feed(b"RCPT TO:<\"j.de vries\"@x.test>\r\nRCPT TO:<\"x\\\"y\"@x.test>\r\n");
        s.feed(b"RCPT TO:<\"jan.jansen\"@x.test>\r\nDATA\r\n");
        let a = s.feed(b"Subject: x\r\n\r\nx\r\n.\r\n");
        let [Action::Deliver(t)] = &a[..] else {
            panic!("{a:?}");
        };
        assert_eq!(t.mail_from, "\"a b\"@o.test");
        assert_eq!(
            t.rcpt_to,
            [
                "\"j.de vries\"@x.test",
                "\"x\\\"y\"@x.test",
                "jan.jansen@x.test"
            ]
        );
    }
}
