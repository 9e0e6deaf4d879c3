//! The SMTP server session with hostile clients: arbitrary bytes in arbitrary chunks,
//! with the I/O layer's answers chosen by the input too. Invariants: no panic; every
//! reply is CRLF-terminated lines starting with a 3-digit code; a message is handed over
//! only from an authenticated or trusted client, within the size and recipient limits;
//! buffered input stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilpost_smtp::{Action, Limits, Peer, Session};

const MAX_SIZE: usize = 2000;
const MAX_RCPT: usize = 5;

fn check_reply(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "{bytes:?}");
    for line in bytes[..bytes.len() - 2].split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit),
            "{line:?}"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let trusted = control & 1 == 1;
    let mut s = Session::new(
        Limits {
            hostname: "gw.test".into(),
            max_message_size: MAX_SIZE,
            max_recipients: MAX_RCPT,
            check_recipients: control & 4 == 4,
            ..Limits::default()
        },
        Peer {
            tls_available: control & 2 == 2,
            trusted,
        },
    );
    let mut authenticated = false;
    let chunk = 1 + (control as usize >> 2);
    let mut pending: Vec<Action> = Vec::new();
    for piece in data.chunks(chunk) {
        pending.extend(s.feed(piece));
        // Answer the actions the way the I/O layer would, decided by the bytes seen.
        while !pending.is_empty() {
            let mut next = Vec::new();
            for action in pending.drain(..) {
                match action {
                    Action::Send(bytes) => check_reply(&bytes),
                    Action::StartTls => s.tls_started(),
                    Action::Authenticate { password, .. } => {
                        let ok = password.len() % 2 == 0;
                        authenticated |= ok;
                        next.extend(s.auth_result(ok.then(|| "user@praktijk.test".into())));
                    }
                    Action::CheckSender { mail_from, .. } => {
                        next.extend(s.sender_result(!mail_from.contains('x')));
                    }
                    Action::CheckRecipient { address } => {
                        next.extend(s.recipient_result(if address.contains('q') {
                            veilpost_smtp::Recipient::Refuse((550, "5.1.1".into(), "gone".into()))
                        } else {
                            veilpost_smtp::Recipient::Accept
                        }));
                    }
                    Action::Deliver(t) => {
                        assert!(trusted || authenticated, "message without AUTH or trust");
                        assert!(t.data.len() <= MAX_SIZE + 2, "{} bytes", t.data.len());
                        assert!(!t.rcpt_to.is_empty() && t.rcpt_to.len() <= MAX_RCPT);
                        let r = if t.data.len() % 3 == 0 {
                            Err((451, "4.3.0".into(), "try again".into()))
                        } else {
                            Ok("id".into())
                        };
                        next.extend(s.deliver_result(r));
                    }
                    Action::Close => {}
                }
            }
            pending = next;
        }
        if s.is_closed() {
            return;
        }
    }
});
