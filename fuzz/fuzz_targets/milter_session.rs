//! The milter session with a hostile MTA: arbitrary bytes in arbitrary chunks, the I/O
//! layer's answers chosen by the input too. Invariants: no panic; everything sent is whole
//! frames that parse as server messages; a message is handed over for judging within the
//! size and recipient limits, and only one at a time; once closed, nothing more happens.
//!
//!     cargo fuzz run -O -s none milter_session -- -max_total_time=60
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use miltr_common::decoding::ServerCommand;
use veilpost_smtp::milter::{Action, Changes, MilterLimits, MilterSession, Reply};

const MAX_SIZE: usize = 3000;
const MAX_RCPT: usize = 4;

fn check_frames(bytes: &[u8]) {
    let mut input = BytesMut::from(bytes);
    while !input.is_empty() {
        assert!(input.len() >= 5, "a cut frame");
        let length = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
        assert!(length >= 1 && input.len() >= 4 + length, "a cut frame");
        let mut frame = input.split_to(4 + length);
        let _ = frame.split_to(4);
        ServerCommand::parse(frame).expect("a server message");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let mut s = MilterSession::new(MilterLimits {
        max_message_size: MAX_SIZE,
        max_recipients: MAX_RCPT,
    });
    let chunk = 1 + (control as usize >> 1);
    let mut answered = 0usize;
    for piece in data.chunks(chunk) {
        let mut pending = s.feed(piece);
        while !pending.is_empty() {
            let mut next = Vec::new();
            let judges = pending.iter().filter(|a| matches!(a, Action::Judge(_))).count();
            assert!(judges <= 1, "two messages judged at once");
            for action in pending {
                match action {
                    Action::Send(bytes) => check_frames(&bytes),
                    Action::Judge(judge) => {
                        let t = &judge.transaction;
                        assert!(t.data.len() <= MAX_SIZE + 2, "{} bytes", t.data.len());
                        assert!(t.rcpt_to.len() <= MAX_RCPT);
                        answered += 1;
                        let reply = match (t.data.len() + answered) % 3 {
                            0 => Reply::Discard,
                            1 => Reply::Refuse((550, "5.7.1".into(), "no\r\nway".into())),
                            _ => Reply::Continue(Changes {
                                change: vec![("Subject".into(), 1, String::new())],
                                prepend: vec![("X-A".into(), "b\r\n c".into())],
                                append: vec![],
                                body: (control & 1 == 1).then(|| t.data.clone()),
                            }),
                        };
                        next.extend(s.answer(reply));
                    }
                    Action::Close => assert!(s.is_closed()),
                }
            }
            pending = next;
        }
        if s.is_closed() {
            assert!(s.feed(b"\0\0\0\x01Q").is_empty());
            return;
        }
    }
});
