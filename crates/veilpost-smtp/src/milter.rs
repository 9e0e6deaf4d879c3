//! The milter session (protocol v6, as Postfix speaks it for `smtpd_milters`) as a state
//! machine without I/O: frames in, actions out, like [`crate::session`] for SMTP. The
//! commands are parsed and the replies encoded by `miltr-common`; this module owns the
//! negotiation, gathers the message, keeps the limits and turns the I/O layer's answer
//! into the milter's replies and edits.
//!
//! Speed comes from asking for as few round trips as the MTA allows: Veilpost only
//! decides at the end of the message, so it negotiates "no reply" for every step before
//! (connect, HELO, MAIL, RCPT, each header, end of headers, body chunks) and does not want
//! DATA or unknown commands. Postfix then streams the whole message and waits once.

use std::net::IpAddr;

use bytes::BytesMut;
use miltr_common::ProtocolError;
use miltr_common::actions::{Action as MilterAction, Continue, Discard, Replycode};
use miltr_common::decoding::ClientCommand;
use miltr_common::encoding::{ServerMessage, Writable};
use miltr_common::modifications::ModificationResponse;
use miltr_common::modifications::body::ReplaceBody;
use miltr_common::modifications::headers::{AddHeader, ChangeHeader, InsertHeader};
use miltr_common::optneg::{Capability, OptNeg, Protocol};

use crate::session::Transaction;

/// Largest frame a client may send: a body chunk of 65,535 bytes and its command byte.
pub const MAX_FRAME: usize = 65_536;

/// Largest body replacement in one reply: every client takes it (libmilter reads 64 KiB
/// at a time, OpenDKIM's miltertest 1 KiB).
const BODY_CHUNK: usize = 1000;

/// What Veilpost asks the MTA for: header values with their leading space (the message is
/// put back together byte for byte, which DKIM's simple canonicalisation needs), and no
/// reply to anything before the end of the message.
const WANTED: Protocol = Protocol::NO_UNKNOWN
    .union(Protocol::NO_DATA)
    .union(Protocol::NR_CONNECT)
    .union(Protocol::NR_HELO)
    .union(Protocol::NR_MAIL)
    .union(Protocol::NR_RECIPIENT)
    .union(Protocol::NR_HEADER)
    .union(Protocol::NR_END_OF_HEADER)
    .union(Protocol::NR_BODY)
    .union(Protocol::NR_DATA)
    .union(Protocol::NR_UNKNOWN)
    .union(Protocol::SMFIP_HDR_LEADSPC);

/// What Veilpost may do to a message: add, change and remove header fields, replace the
/// body.
const ACTIONS: Capability = Capability::SMFIF_ADDHDRS
    .union(Capability::SMFIF_CHGHDRS)
    .union(Capability::SMFIF_CHGBODY);

/// Fixed settings of the milter listener.
#[derive(Debug, Clone, Copy)]
pub struct MilterLimits {
    /// Largest message (header and body) gathered for judging; a bigger one is refused.
    pub max_message_size: usize,
    /// Most recipients kept per message.
    pub max_recipients: usize,
}

/// What the I/O layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes (whole frames) to the MTA.
    Send(Vec<u8>),
    /// The message is complete: judge it, then call [`MilterSession::answer`].
    Judge(Judge),
    /// Close the connection (after sending what came before).
    Close,
}

/// A message to judge, as the MTA told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge {
    /// The SMTP client's address, if the MTA named one (not for local submissions).
    pub client: Option<IpAddr>,
    /// HELO name, envelope, and the header fields (CRLF line ends) followed by the body.
    pub transaction: Transaction,
}

/// Header and body changes to a message: the shape of `veilpost_verdict::edits::Edits`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// (name, occurrence from 1, new value; empty removes the field).
    pub change: Vec<(String, u32, String)>,
    /// New fields above the message's own, in this order.
    pub prepend: Vec<(String, String)>,
    /// New fields below them, in this order.
    pub append: Vec<(String, String)>,
    /// The new body, when it changed.
    pub body: Option<Vec<u8>>,
}

/// The I/O layer's answer about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Let it go on in the MTA, with these changes.
    Continue(Changes),
    /// Accept it and drop the MTA's copy (Veilpost keeps it, e.g. in quarantine).
    Discard,
    /// Refuse it with this code, enhanced code and text.
    Refuse((u16, String, String)),
}

/// The message under way, gathered command by command.
#[derive(Debug, Default)]
struct Message {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
    header_done: bool,
    too_big: bool,
}

/// One milter connection.
#[derive(Debug)]
pub struct MilterSession {
    limits: MilterLimits,
    /// What was agreed at option negotiation (nothing before it).
    protocol: Protocol,
    capabilities: Capability,
    input: BytesMut,
    client: Option<IpAddr>,
    helo: String,
    message: Message,
    waiting: bool,
    closed: bool,
}

impl MilterSession {
    pub fn new(limits: MilterLimits) -> MilterSession {
        MilterSession {
            limits,
            protocol: Protocol::empty(),
            capabilities: Capability::empty(),
            input: BytesMut::new(),
            client: None,
            helo: String::new(),
            message: Message::default(),
            waiting: false,
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The negotiated protocol (what the MTA sends and which steps get no reply).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Feed bytes from the MTA; returns what to do. Input that arrives while a message
    /// is being judged is kept and processed after [`MilterSession::answer`].
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Action> {
        self.input.extend_from_slice(bytes);
        self.run()
    }

    fn run(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let mut replies = Vec::new();
        while !self.waiting && !self.closed {
            match next_frame(&mut self.input) {
                Ok(None) => break,
                Ok(Some(command)) => match self.step(command) {
                    Step::Reply(frames) => replies.extend(frames),
                    Step::Quiet => {}
                    Step::Judge(judge) => {
                        self.waiting = true;
                        flush(&mut replies, &mut out);
                        out.push(Action::Judge(judge));
                    }
                    Step::Close => {
                        self.closed = true;
                    }
                },
                Err(_) => {
                    // Nothing sensible can be answered to a broken stream: the MTA's
                    // own default action for an unreachable milter applies.
                    self.closed = true;
                }
            }
        }
        flush(&mut replies, &mut out);
        if self.closed {
            out.push(Action::Close);
        }
        out
    }

    /// The answer about the message handed over in [`Action::Judge`].
    pub fn answer(&mut self, reply: Reply) -> Vec<Action> {
        if !self.waiting {
            return Vec::new();
        }
        self.waiting = false;
        let response = match reply {
            Reply::Continue(changes) => self.edits(&changes),
            Reply::Discard => ModificationResponse::builder().build(Discard),
            Reply::Refuse(refusal) => ModificationResponse::builder().build(reply_code(&refusal)),
        };
        let mut out = vec![Action::Send(self.frames(response))];
        out.extend(self.run());
        out
    }

    fn step(&mut self, command: ClientCommand) -> Step {
        match command {
            ClientCommand::OptNeg(theirs) => {
                let ours = OptNeg {
                    protocol: WANTED,
                    capabilities: ACTIONS,
                    ..OptNeg::default()
                };
                match ours.merge_compatible(&theirs) {
                    Ok(mut agreed) => {
                        // An MTA speaking an older version is answered in its own.
                        agreed.version = agreed.version.min(theirs.version);
                        self.protocol = agreed.protocol;
                        self.capabilities = agreed.capabilities;
                        let mut out = Vec::new();
                        frame(&ServerMessage::from(agreed), &mut out);
                        Step::Reply(out)
                    }
                    Err(_) => Step::Close,
                }
            }
            ClientCommand::Macro(_) => Step::Quiet,
            ClientCommand::Connect(connect) => {
                let address = connect.address();
                let address = address.strip_prefix("IPv6:").unwrap_or(&address);
                self.client = address.parse().ok();
                self.go_on(Protocol::NR_CONNECT)
            }
            ClientCommand::Helo(helo) => {
                self.helo = helo.helo().chars().take(255).collect();
                self.go_on(Protocol::NR_HELO)
            }
            ClientCommand::Mail(mail) => {
                self.message = Message {
                    mail_from: strip_angles(&mail.sender()),
                    ..Message::default()
                };
                self.go_on(Protocol::NR_MAIL)
            }
            ClientCommand::Recipient(recipient) => {
                if self.message.rcpt_to.len() < self.limits.max_recipients {
                    let address = strip_angles(&recipient.recipient());
                    self.message.rcpt_to.push(address);
                }
                self.go_on(Protocol::NR_RECIPIENT)
            }
            ClientCommand::Data(_) => self.go_on(Protocol::NR_DATA),
            ClientCommand::Unknown(_) => self.go_on(Protocol::NR_UNKNOWN),
            ClientCommand::Header(header) => {
                let value = header.value();
                // Without the negotiated leading space, the value starts after ": ".
                let space = if self.protocol.contains(Protocol::SMFIP_HDR_LEADSPC) {
                    ""
                } else {
                    " "
                };
                // Folded lines come with bare LFs; the message is kept with CRLF.
                let value = value.replace("\r\n", "\n").replace('\n', "\r\n");
                let field = format!("{}:{space}{value}\r\n", header.name());
                self.take(field.as_bytes());
                self.go_on(Protocol::NR_HEADER)
            }
            ClientCommand::EndOfHeader(_) => {
                self.message.header_done = true;
                self.take(b"\r\n");
                self.go_on(Protocol::NR_END_OF_HEADER)
            }
            ClientCommand::Body(body) => {
                self.take(body.as_bytes());
                self.go_on(Protocol::NR_BODY)
            }
            ClientCommand::EndOfBody(_) => self.end_of_message(),
            ClientCommand::Abort(_) => {
                self.message = Message::default();
                Step::Quiet
            }
            ClientCommand::Quit(_) => Step::Close,
            ClientCommand::QuitNc(_) => {
                // The connection is kept for another SMTP client.
                self.client = None;
                self.helo.clear();
                self.message = Message::default();
                Step::Quiet
            }
        }
    }

    /// Continue, unless the step was agreed to go without a reply.
    fn go_on(&self, no_reply: Protocol) -> Step {
        if self.protocol.contains(no_reply) {
            return Step::Quiet;
        }
        let mut out = Vec::new();
        frame(&ServerMessage::from(MilterAction::from(Continue)), &mut out);
        Step::Reply(out)
    }

    fn end_of_message(&mut self) -> Step {
        let mut m = std::mem::take(&mut self.message);
        if m.too_big {
            let refusal = (
                552,
                "5.3.4".into(),
                "Message too big for this server".into(),
            );
            let response = ModificationResponse::builder().build(reply_code(&refusal));
            return Step::Reply(self.frames(response));
        }
        if !m.header_done {
            m.data.extend_from_slice(b"\r\n");
        }
        Step::Judge(Judge {
            client: self.client,
            transaction: Transaction {
                helo: self.helo.clone(),
                mail_from: m.mail_from,
                rcpt_to: m.rcpt_to,
                auth_user: None,
                tls: false,
                smtputf8: false,
                data: m.data,
            },
        })
    }

    /// Add bytes to the message unless it is already too big to judge.
    fn take(&mut self, bytes: &[u8]) {
        let m = &mut self.message;
        if m.too_big || m.data.len() + bytes.len() > self.limits.max_message_size {
            m.too_big = true;
            m.data = Vec::new();
            return;
        }
        m.data.extend_from_slice(bytes);
    }

    /// A header value as it goes back: folded lines joined by LF, with the leading space
    /// when the MTA sends (and so expects) it.
    fn value_out(&self, value: &str) -> Vec<u8> {
        let value = value.replace("\r\n", "\n");
        if self.protocol.contains(Protocol::SMFIP_HDR_LEADSPC) {
            format!(" {value}").into_bytes()
        } else {
            value.into_bytes()
        }
    }

    fn edits(&self, changes: &Changes) -> ModificationResponse {
        let mut out = ModificationResponse::builder();
        for (name, index, value) in &changes.change {
            let value = if value.is_empty() {
                Vec::new()
            } else {
                self.value_out(value)
            };
            out.push(ChangeHeader::new(*index, name.as_bytes(), &value));
        }
        for (i, (name, value)) in changes.prepend.iter().enumerate() {
            let at = u32::try_from(i).unwrap_or(u32::MAX);
            out.push(InsertHeader::new(
                at,
                name.as_bytes(),
                &self.value_out(value),
            ));
        }
        for (name, value) in &changes.append {
            out.push(AddHeader::new(name.as_bytes(), &self.value_out(value)));
        }
        if let Some(body) = &changes.body {
            for chunk in body.chunks(BODY_CHUNK) {
                out.push(ReplaceBody::new(chunk));
            }
        }
        out.build(Continue)
    }

    /// The response's frames, leaving out edits the MTA did not agree to.
    fn frames(&self, mut response: ModificationResponse) -> Vec<u8> {
        response.filter_mods_by_caps(self.capabilities);
        let mut out = Vec::new();
        for message in Vec::<ServerMessage>::from(response) {
            frame(&message, &mut out);
        }
        out
    }
}

/// What one command asks of the session.
enum Step {
    Reply(Vec<u8>),
    Quiet,
    Judge(Judge),
    Close,
}

fn flush(replies: &mut Vec<u8>, out: &mut Vec<Action>) {
    if !replies.is_empty() {
        out.push(Action::Send(std::mem::take(replies)));
    }
}

/// The next whole command in `input`, taken out of it.
fn next_frame(input: &mut BytesMut) -> Result<Option<ClientCommand>, ProtocolError> {
    let Some(length) = input.get(..4) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
    if length == 0 || length > MAX_FRAME {
        return Err(ProtocolError::TooMuchData(length));
    }
    if input.len() < 4 + length {
        return Ok(None);
    }
    let mut command = input.split_to(4 + length);
    let _ = command.split_to(4);
    ClientCommand::parse(command).map(Some)
}

/// One message as a frame: its length, its code, its data.
fn frame(message: &ServerMessage, out: &mut Vec<u8>) {
    let mut data = BytesMut::with_capacity(message.len());
    message.write(&mut data);
    let length = u32::try_from(1 + data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(message.code());
    out.extend_from_slice(&data);
}

/// `(550, "5.7.1", text)` as a milter reply code (digits apart); an odd code is a 451.
fn reply_code((code, enhanced, text): &(u16, String, String)) -> Replycode {
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
        _ => Replycode::new([4, 5, 1], [4, 3, 0], "Temporary failure, try again later"),
    }
}

/// `<a@b.nl>` as `a@b.nl` (the MTA sends envelope addresses in angle brackets).
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
    use miltr_common::decoding::ServerCommand;

    const LIMITS: MilterLimits = MilterLimits {
        max_message_size: 10_000,
        max_recipients: 3,
    };

    /// Everything Postfix offers (its `my_events`).
    const POSTFIX_OFFERS: u32 = 0x001f_ffff;

    fn raw_frame(code: u8, data: &[u8]) -> Vec<u8> {
        let mut out = (1 + data.len() as u32).to_be_bytes().to_vec();
        out.push(code);
        out.extend_from_slice(data);
        out
    }

    fn optneg(protocol: u32) -> Vec<u8> {
        let mut data = 6u32.to_be_bytes().to_vec();
        data.extend_from_slice(&0x1ffu32.to_be_bytes());
        data.extend_from_slice(&protocol.to_be_bytes());
        raw_frame(b'O', &data)
    }

    /// The server's replies in `bytes`, parsed back.
    fn replies(bytes: &[u8]) -> Vec<ServerCommand> {
        let mut input = BytesMut::from(bytes);
        let mut out = Vec::new();
        while input.len() >= 4 {
            let length = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
            let mut command = input.split_to(4 + length);
            let _ = command.split_to(4);
            out.push(ServerCommand::parse(command).expect("a valid server message"));
        }
        out
    }

    fn sent(actions: &[Action]) -> Vec<ServerCommand> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Send(bytes) => replies(bytes),
                _ => Vec::new(),
            })
            .collect()
    }

    /// A whole conversation for one message, after option negotiation, framed as
    /// Postfix frames it.
    fn conversation() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(raw_frame(b'D', b"Cj\0mail.test\0"));
        out.extend(raw_frame(b'C', b"client.test\x004\x00\x19192.0.2.7\0"));
        out.extend(raw_frame(b'H', b"client.test\0"));
        out.extend(raw_frame(b'M', b"<ann@partner.nl>\0SIZE=100\0"));
        for r in ["<bob@praktijk.nl>", "<eve@praktijk.nl>"] {
            out.extend(raw_frame(b'R', format!("{r}\0").as_bytes()));
        }
        out.extend(raw_frame(b'T', b""));
        out.extend(raw_frame(b'L', b"Subject\0 Uitslag\n\tdeel 2\0"));
        out.extend(raw_frame(b'L', b"From\0 Ann <ann@partner.nl>\0"));
        out.extend(raw_frame(b'N', b""));
        out.extend(raw_frame(b'B', b"Hallo\r\n"));
        out.extend(raw_frame(b'E', b""));
        out
    }

    #[test]
    fn with_postfix_only_the_end_of_the_message_gets_a_reply() {
        let mut s = MilterSession::new(LIMITS);
        let actions = s.feed(&optneg(POSTFIX_OFFERS));
        let [ServerCommand::OptNeg(agreed)] = &sent(&actions)[..] else {
            panic!("{actions:?}");
        };
        assert_eq!(agreed.protocol, WANTED);
        assert_eq!(agreed.capabilities, ACTIONS);
        let actions = s.feed(&conversation());
        // No reply before the end: one hand-over, nothing sent.
        let [Action::Judge(judge)] = &actions[..] else {
            panic!("{actions:?}");
        };
        assert_eq!(judge.client, Some("192.0.2.7".parse().expect("an address")));
        let t = &judge.transaction;
        assert_eq!(t.helo, "client.test");
        assert_eq!(t.mail_from, "ann@partner.nl");
        assert_eq!(t.rcpt_to, ["bob@praktijk.nl", "eve@praktijk.nl"]);
        assert_eq!(
            t.data,
            b"Subject: Uitslag\r\n\tdeel 2\r\nFrom: Ann <ann@partner.nl>\r\n\r\nHallo\r\n"
        );
        let actions = s.answer(Reply::Discard);
        assert!(matches!(sent(&actions)[..], [ServerCommand::Discard(_)]));
    }

    #[test]
    fn an_mta_without_the_no_reply_steps_gets_a_continue_for_each() {
        // Protocol v2 style: no NR flags and no leading space on offer.
        let mut s = MilterSession::new(LIMITS);
        s.feed(&optneg(0x7f));
        assert_eq!(s.protocol(), Protocol::empty());
        let actions = s.feed(&conversation());
        let continues = sent(&actions)
            .iter()
            .filter(|c| matches!(c, ServerCommand::Continue(_)))
            .count();
        // Connect, HELO, MAIL, two RCPT, DATA, two headers, EOH, body.
        assert_eq!(continues, 10, "{actions:?}");
        let Some(Action::Judge(judge)) = actions.last() else {
            panic!("{actions:?}");
        };
        // The value came without its leading space; the field is written with one.
        assert!(judge.transaction.data.starts_with(b"Subject:  Uitslag"));
        // Postfix with `milter_protocol = 2` is answered in version 2.
        let mut data = 2u32.to_be_bytes().to_vec();
        data.extend_from_slice(&0x3fu32.to_be_bytes());
        data.extend_from_slice(&0x7fu32.to_be_bytes());
        let actions = MilterSession::new(LIMITS).feed(&raw_frame(b'O', &data));
        let [ServerCommand::OptNeg(agreed)] = &sent(&actions)[..] else {
            panic!("{actions:?}");
        };
        assert_eq!(agreed.version, 2);
    }

    #[test]
    fn edits_become_milter_modifications_within_the_agreed_actions() {
        let mut s = MilterSession::new(LIMITS);
        s.feed(&optneg(POSTFIX_OFFERS));
        s.feed(&conversation());
        let changes = Changes {
            change: vec![("Subject".into(), 1, "[Verdacht] Uitslag".into())],
            prepend: vec![("Authentication-Results".into(), "mx; spf=pass".into())],
            append: vec![("X-Veilpost-Verdict".into(), "tag".into())],
            body: Some(vec![b'x'; 2500]),
        };
        let out = sent(&s.answer(Reply::Continue(changes)));
        let kinds: Vec<&str> = out
            .iter()
            .map(|c| match c {
                ServerCommand::ChangeHeader(_) => "change",
                ServerCommand::InsertHeader(_) => "insert",
                ServerCommand::AddHeader(_) => "add",
                ServerCommand::ReplaceBody(_) => "body",
                ServerCommand::Continue(_) => "continue",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "change", "insert", "add", "body", "body", "body", "continue"
            ]
        );
    }

    #[test]
    fn too_big_is_refused_without_judging() {
        let mut s = MilterSession::new(MilterLimits {
            max_message_size: 20,
            max_recipients: 3,
        });
        s.feed(&optneg(POSTFIX_OFFERS));
        let actions = s.feed(&conversation());
        let [ServerCommand::Replycode(r)] = &sent(&actions)[..] else {
            panic!("{actions:?}");
        };
        assert_eq!(r.rcode().code(), [5, 5, 2]);
        // The next message in the same connection starts afresh.
        let actions = s.feed(&conversation());
        assert!(
            sent(&actions).len() == 1 && !actions.iter().any(|a| matches!(a, Action::Judge(_)))
        );
    }

    #[test]
    fn input_during_judging_waits_and_broken_frames_close() {
        let mut s = MilterSession::new(LIMITS);
        let mut both = optneg(POSTFIX_OFFERS);
        both.extend(conversation());
        both.extend(conversation());
        let actions = s.feed(&both);
        assert_eq!(
            actions
                .iter()
                .filter(|a| matches!(a, Action::Judge(_)))
                .count(),
            1
        );
        let actions = s.answer(Reply::Refuse((550, "5.7.1".into(), "Nee".into())));
        assert_eq!(
            actions
                .iter()
                .filter(|a| matches!(a, Action::Judge(_)))
                .count(),
            1
        );
        // An answer nobody asked for sends nothing.
        s.answer(Reply::Discard);
        assert!(s.answer(Reply::Discard).is_empty());
        // A frame longer than any MTA sends ends the connection.
        let actions = s.feed(&[0x7f, 0, 0, 0, b'B']);
        assert_eq!(actions.last(), Some(&Action::Close));
        assert!(s.is_closed());
        for bad in [
            &[0u8, 0, 0, 0][..],
            &[0, 0, 0, 1, b'?'],
            &[0, 0, 0, 2, b'C', b'x'],
        ] {
            let mut s = MilterSession::new(LIMITS);
            assert_eq!(s.feed(bad).last(), Some(&Action::Close), "{bad:?}");
        }
    }

    /// Hostile input in CI (the fuzz target `milter_session` goes further): a valid
    /// conversation with bytes flipped and cut, in odd chunks, never panics, and whatever
    /// is sent parses as server messages.
    #[test]
    fn mangled_conversations_never_panic() {
        let mut good = optneg(POSTFIX_OFFERS);
        good.extend(conversation());
        good.extend(conversation());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..2000 {
            let mut bytes = good.clone();
            for _ in 0..(1 + round % 4) {
                let at = (random() as usize) % bytes.len();
                bytes[at] = random() as u8;
            }
            bytes.truncate(bytes.len() - (random() as usize) % 40);
            let mut s = MilterSession::new(LIMITS);
            let chunk = 1 + (random() as usize) % 64;
            for piece in bytes.chunks(chunk) {
                for action in s.feed(piece) {
                    match action {
                        Action::Send(out) => drop(replies(&out)),
                        Action::Judge(j) => {
                            assert!(j.transaction.data.len() <= LIMITS.max_message_size + 2);
                            assert!(j.transaction.rcpt_to.len() <= LIMITS.max_recipients);
                            for action in s.answer(Reply::Continue(Changes::default())) {
                                if let Action::Send(out) = action {
                                    drop(replies(&out));
                                }
                            }
                        }
                        Action::Close => assert!(s.is_closed()),
                    }
                }
            }
            if s.is_closed() {
                assert!(s.feed(&good).is_empty());
            }
        }
    }

    #[test]
    fn refusals_become_milter_reply_codes() {
        let r = reply_code(&(550, "5.7.1".into(), "Message refused\r\n(x)".into()));
        assert_eq!(r.rcode().code(), [5, 5, 0]);
        assert_eq!(r.xcode().as_ref().map(|x| x.code()), Some([5, 7, 1]));
        assert_eq!(r.message(), "Message refused  (x)");
        // A mismatched or malformed enhanced code is no licence to refuse for good.
        for odd in [(550, "4.7.1"), (550, "5.7"), (250, "2.0.0"), (999, "9.9.9")] {
            let r = reply_code(&(odd.0, odd.1.into(), "x".into()));
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
