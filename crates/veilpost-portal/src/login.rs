//! The recipient login as an explicit state machine. A notification link only ever shows
//! the landing page (link scanners fetch every link); access needs an explicit action and
//! a second factor:
//!
//! ```text
//! Landing --Open--> Choosing --Choose(SMS | e-mail)--> CodeSent --Submit(ok)--> Verified
//!                        \--Choose(access code | TOTP)--> AwaitingCode --Submit(ok)--/
//! CodeSent / AwaitingCode --Submit(wrong) x max_attempts--> Locked (the sender is told)
//! CodeSent --(ttl passes)--> code refused as expired; Resend makes a new one (limited)
//! CodeSent / AwaitingCode --Back--> Choosing (wrong tries so far go along)
//! ```
//!
//! Codes are kept only as salted SHA-256 and compared in constant time. The machine says
//! what must happen outside it (send an SMS, mail a code, tell the sender) as [`Effect`]s.

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

/// How the recipient proves who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Factor {
    /// A code by SMS to this number (E.164).
    Sms { phone: String },
    /// A code by e-mail to the recipient's own address, where policy allows that alone.
    Email,
    /// The access code Veilpost gave the sender to pass on by another channel.
    AccessCode,
    /// A TOTP app the recipient registered on an earlier visit (checked by the caller).
    Totp,
}

impl Factor {
    /// Its name in forms, sessions and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Factor::Sms { .. } => "sms",
            Factor::Email => "email",
            Factor::AccessCode => "access_code",
            Factor::Totp => "totp",
        }
    }

    /// Held by the recipient alone: the recipient's own phone or an app they linked
    /// (the sender knows the access code; an e-mail code proves a mailbox).
    pub fn recipients_own(name: &str) -> bool {
        matches!(name, "sms" | "totp")
    }
}

/// The limits of the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Digits in a code (6 to 8).
    pub digits: u32,
    /// Seconds a sent code stays valid.
    pub code_ttl: i64,
    /// Wrong codes before the login locks.
    pub max_attempts: u32,
    /// Codes sent per login at most (the first and resends).
    pub max_sends: u32,
    /// Seconds between two sends.
    pub resend_after: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            digits: 6,
            code_ttl: 600,
            max_attempts: 5,
            max_sends: 3,
            resend_after: 30,
        }
    }
}

/// A code as stored: salted hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCode {
    salt: [u8; 16],
    hash: Vec<u8>,
}

impl StoredCode {
    /// Keep `code` (salted with `salt`, which must be random).
    pub fn new(code: &str, salt: [u8; 16]) -> StoredCode {
        StoredCode {
            hash: hash(&salt, &normalize(code)),
            salt,
        }
    }

    /// Does `attempt` match, in constant time? Spaces, dashes and letter case, as people
    /// type codes read out over the phone, do not matter.
    pub fn matches(&self, attempt: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            &hash(&self.salt, &normalize(attempt)),
            &self.hash,
        )
        .is_ok()
    }
}

impl StoredCode {
    /// As stored in the database.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<StoredCode> {
        serde_json::from_str(text).ok()
    }
}

/// An access code for the sender to read out: 8 digits in two groups ("1234 5678").
pub fn make_access_code(random_u32: impl FnMut() -> u32) -> String {
    let code = make_code(8, random_u32);
    format!("{} {}", &code[..4], &code[4..])
}

fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn hash(salt: &[u8], code: &str) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(code.as_bytes());
    ctx.finish().as_ref().to_vec()
}

/// Make a code of `digits` digits from random bytes (uniform: rejection sampling).
pub fn make_code(digits: u32, mut random_u32: impl FnMut() -> u32) -> String {
    let digits = digits.clamp(6, 8);
    let modulus = 10u32.pow(digits);
    // The largest multiple of `modulus` that fits, so every code is equally likely.
    let limit = u32::MAX - (u32::MAX % modulus);
    loop {
        let r = random_u32();
        if r < limit {
            return format!("{:0width$}", r % modulus, width = digits as usize);
        }
    }
}

/// Codes sent (by SMS or e-mail) in one login, whatever the factor: the cap and the
/// wait between sends hold across going back and choosing again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub count: u32,
    /// When the last one went out (0: none yet).
    pub at: i64,
}

/// Where a login stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// The link was opened: sender and expiry only, nothing consumed.
    Landing,
    /// The recipient asked to read (a POST): choose how to prove who they are.
    Choosing {
        /// Wrong codes so far in this login (switching factors keeps them).
        #[serde(default)]
        attempts: u32,
        /// Codes sent so far in this login (going back keeps them too).
        #[serde(default)]
        sent: Sent,
    },
    /// A code went out by SMS or e-mail.
    CodeSent {
        factor: Factor,
        code: StoredCode,
        expires_at: i64,
        sent_at: i64,
        sends: u32,
        attempts: u32,
    },
    /// Waiting for the access code or a TOTP code.
    AwaitingCode {
        factor: Factor,
        attempts: u32,
        #[serde(default)]
        sent: Sent,
    },
    /// Proven: the message may be shown.
    Verified {
        at: i64,
        /// With what (only a factor the recipient alone holds may link an app).
        #[serde(default)]
        factor: Option<Factor>,
    },
    /// Too many wrong codes; only the sender (or an administrator) can unlock.
    Locked { at: i64 },
}

/// What the recipient did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// "Open the message" (a POST, never a GET).
    Open,
    /// A factor chosen; for SMS and e-mail `code` is the fresh code to send and `salt`
    /// random bytes to keep it with.
    Choose {
        factor: Factor,
        code: Option<(String, [u8; 16])>,
    },
    /// A new code (SMS and e-mail only).
    Resend { code: String, salt: [u8; 16] },
    /// Choose another factor.
    Back,
    /// A code typed in. For TOTP the caller checks it and passes `totp_valid`.
    Submit { code: String, totp_valid: bool },
}

/// What must happen outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    SendSms {
        phone: String,
        code: String,
    },
    MailCode {
        code: String,
    },
    /// The login locked: tell the sender.
    TellSenderLocked,
    /// Audit: a code was requested, a login failed or succeeded.
    Audit(&'static str),
}

/// Why an event was refused (the state does not change, unless it locks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The event does not fit the state (a replayed form, say).
    OutOfOrder,
    /// The stored access code or TOTP is not available for this message.
    FactorUnavailable,
    /// The code was wrong; tries left.
    WrongCode { left: u32 },
    /// The code has expired: ask for a new one.
    CodeExpired,
    /// Too soon, or too many codes: wait or use another way.
    TooManySends { retry_after: i64 },
    /// Locked.
    Locked,
}

/// What one step did: effects to carry out (also when refused: a lock tells the sender),
/// and whether the event was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub effects: Vec<Effect>,
    pub result: Result<(), Refusal>,
}

impl Step {
    fn ok(effects: Vec<Effect>) -> Step {
        Step {
            effects,
            result: Ok(()),
        }
    }

    fn refused(refusal: Refusal) -> Step {
        Step {
            effects: Vec::new(),
            result: Err(refusal),
        }
    }
}

/// The login of one recipient for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub state: State,
    pub rules: Rules,
    /// The access code given to the sender, if the message has one.
    pub access_code: Option<StoredCode>,
    /// The recipient has a registered TOTP app.
    pub has_totp: bool,
}

impl Login {
    pub fn new(rules: Rules, access_code: Option<StoredCode>, has_totp: bool) -> Login {
        Login {
            state: State::Landing,
            rules,
            access_code,
            has_totp,
        }
    }

    /// The state as stored between requests.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored state; `None` if it does not parse (the caller must then treat the login
    /// as locked: failing closed keeps a lock-out from being reset by damage).
    pub fn from_json(text: &str) -> Option<Login> {
        serde_json::from_str(text).ok()
    }

    /// Apply `event` at time `now`.
    pub fn step(&mut self, event: Event, now: i64) -> Step {
        let state = std::mem::replace(&mut self.state, State::Landing);
        let (next, step) = self.transition(state, event, now);
        self.state = next;
        step
    }

    fn transition(&self, state: State, event: Event, now: i64) -> (State, Step) {
        match (state, event) {
            (s @ State::Locked { .. }, _) => (s, Step::refused(Refusal::Locked)),
            (State::Landing, Event::Open) => (
                State::Choosing {
                    attempts: 0,
                    sent: Sent::default(),
                },
                Step::ok(Vec::new()),
            ),
            (State::Choosing { attempts, sent }, Event::Choose { factor, code }) => {
                self.choose(factor, code, attempts, sent, now)
            }
            (
                State::CodeSent {
                    attempts,
                    sends,
                    sent_at,
                    ..
                },
                Event::Back,
            ) => (
                State::Choosing {
                    attempts,
                    sent: Sent {
                        count: sends,
                        at: sent_at,
                    },
                },
                Step::ok(Vec::new()),
            ),
            (State::AwaitingCode { attempts, sent, .. }, Event::Back) => {
                (State::Choosing { attempts, sent }, Step::ok(Vec::new()))
            }
            (
                State::CodeSent {
                    factor,
                    code,
                    expires_at,
                    sent_at,
                    sends,
                    attempts,
                },
                Event::Resend { code: fresh, salt },
            ) => {
                let wait = sent_at + self.rules.resend_after - now;
                if sends >= self.rules.max_sends || wait > 0 {
                    let retry_after = if sends >= self.rules.max_sends {
                        expires_at.saturating_sub(now).max(0)
                    } else {
                        wait
                    };
                    let same = State::CodeSent {
                        factor,
                        code,
                        expires_at,
                        sent_at,
                        sends,
                        attempts,
                    };
                    return (same, Step::refused(Refusal::TooManySends { retry_after }));
                }
                let effects = vec![
                    send(&factor, fresh.clone()),
                    Effect::Audit("code.requested"),
                ];
                (
                    State::CodeSent {
                        factor,
                        code: StoredCode::new(&fresh, salt),
                        expires_at: now + self.rules.code_ttl,
                        sent_at: now,
                        sends: sends + 1,
                        // Tries count across resends: a new code is no new five guesses.
                        attempts,
                    },
                    Step::ok(effects),
                )
            }
            (
                State::CodeSent {
                    factor,
                    code,
                    expires_at,
                    sent_at,
                    sends,
                    attempts,
                },
                Event::Submit { code: typed, .. },
            ) => {
                if now >= expires_at {
                    let same = State::CodeSent {
                        factor,
                        code,
                        expires_at,
                        sent_at,
                        sends,
                        attempts,
                    };
                    return (same, Step::refused(Refusal::CodeExpired));
                }
                let ok = code.matches(&typed);
                let proof = factor.clone();
                self.judge(ok, (&proof, attempts), now, |attempts| State::CodeSent {
                    factor,
                    code,
                    expires_at,
                    sent_at,
                    sends,
                    attempts,
                })
            }
            (
                State::AwaitingCode {
                    factor,
                    attempts,
                    sent,
                },
                Event::Submit {
                    code: typed,
                    totp_valid,
                },
            ) => {
                let ok = match factor {
                    Factor::Totp => totp_valid,
                    _ => self.access_code.as_ref().is_some_and(|c| c.matches(&typed)),
                };
                let proof = factor.clone();
                self.judge(ok, (&proof, attempts), now, |attempts| {
                    State::AwaitingCode {
                        factor,
                        attempts,
                        sent,
                    }
                })
            }
            (s, _) => (s, Step::refused(Refusal::OutOfOrder)),
        }
    }

    fn choose(
        &self,
        factor: Factor,
        code: Option<(String, [u8; 16])>,
        attempts: u32,
        sent: Sent,
        now: i64,
    ) -> (State, Step) {
        let choosing = State::Choosing { attempts, sent };
        match factor {
            Factor::Sms { .. } | Factor::Email => {
                let Some((code, salt)) = code else {
                    return (choosing, Step::refused(Refusal::OutOfOrder));
                };
                let wait = sent.at + self.rules.resend_after - now;
                if sent.count >= self.rules.max_sends {
                    // The last code's lifetime is the earliest anything changes.
                    let retry_after = (sent.at + self.rules.code_ttl - now).max(1);
                    return (
                        choosing,
                        Step::refused(Refusal::TooManySends { retry_after }),
                    );
                }
                if sent.count > 0 && wait > 0 {
                    return (
                        choosing,
                        Step::refused(Refusal::TooManySends { retry_after: wait }),
                    );
                }
                let effects = vec![send(&factor, code.clone()), Effect::Audit("code.requested")];
                (
                    State::CodeSent {
                        factor,
                        code: StoredCode::new(&code, salt),
                        expires_at: now + self.rules.code_ttl,
                        sent_at: now,
                        sends: sent.count + 1,
                        attempts,
                    },
                    Step::ok(effects),
                )
            }
            Factor::AccessCode if self.access_code.is_none() => {
                (choosing, Step::refused(Refusal::FactorUnavailable))
            }
            Factor::Totp if !self.has_totp => (choosing, Step::refused(Refusal::FactorUnavailable)),
            Factor::AccessCode | Factor::Totp => (
                State::AwaitingCode {
                    factor,
                    attempts,
                    sent,
                },
                Step::ok(Vec::new()),
            ),
        }
    }

    /// Count one try: verified on a match; otherwise one more wrong try, locking at the
    /// limit (and telling the sender).
    fn judge(
        &self,
        ok: bool,
        (factor, attempts): (&Factor, u32),
        now: i64,
        stay: impl FnOnce(u32) -> State,
    ) -> (State, Step) {
        if ok {
            return (
                State::Verified {
                    at: now,
                    factor: Some(factor.clone()),
                },
                Step::ok(vec![Effect::Audit("login.succeeded")]),
            );
        }
        let attempts = attempts + 1;
        if attempts >= self.rules.max_attempts {
            return (
                State::Locked { at: now },
                Step {
                    effects: vec![
                        Effect::Audit("login.failed"),
                        Effect::Audit("login.locked"),
                        Effect::TellSenderLocked,
                    ],
                    result: Err(Refusal::Locked),
                },
            );
        }
        (
            stay(attempts),
            Step {
                effects: vec![Effect::Audit("login.failed")],
                result: Err(Refusal::WrongCode {
                    left: self.rules.max_attempts - attempts,
                }),
            },
        )
    }
}

fn send(factor: &Factor, code: String) -> Effect {
    match factor {
        Factor::Sms { phone } => Effect::SendSms {
            phone: phone.clone(),
            code,
        },
        _ => Effect::MailCode { code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;
    const SALT: [u8; 16] = [7; 16];

    fn sms() -> Factor {
        Factor::Sms {
            phone: "+31612345678".into(),
        }
    }

    fn to_code_sent(login: &mut Login, code: &str) {
        assert_eq!(login.step(Event::Open, T0).result, Ok(()));
        let s = login.step(
            Event::Choose {
                factor: sms(),
                code: Some((code.into(), SALT)),
            },
            T0,
        );
        assert_eq!(s.result, Ok(()));
        assert_eq!(
            s.effects[0],
            Effect::SendSms {
                phone: "+31612345678".into(),
                code: code.into()
            }
        );
    }

    fn submit(code: &str) -> Event {
        Event::Submit {
            code: code.into(),
            totp_valid: false,
        }
    }

    #[test]
    fn link_fetches_change_nothing_and_sms_code_opens() {
        let mut l = Login::new(Rules::default(), None, false);
        // A GET never reaches the machine; a replayed submit before Open is refused.
        assert_eq!(
            l.step(submit("123456"), T0).result,
            Err(Refusal::OutOfOrder)
        );
        assert_eq!(l.state, State::Landing);
        to_code_sent(&mut l, "482913");
        let s = l.step(submit("482 913"), T0 + 30);
        assert_eq!(s.result, Ok(()));
        assert_eq!(s.effects, vec![Effect::Audit("login.succeeded")]);
        assert_eq!(
            l.state,
            State::Verified {
                at: T0 + 30,
                factor: Some(sms())
            }
        );
    }

    #[test]
    fn five_wrong_codes_lock_and_tell_the_sender() {
        let mut l = Login::new(Rules::default(), None, false);
        to_code_sent(&mut l, "482913");
        for left in (1..5).rev() {
            let s = l.step(submit("000000"), T0 + 1);
            assert_eq!(s.result, Err(Refusal::WrongCode { left }));
        }
        let s = l.step(submit("000000"), T0 + 2);
        assert_eq!(s.result, Err(Refusal::Locked));
        assert!(s.effects.contains(&Effect::TellSenderLocked));
        // Even the right code no longer helps.
        assert_eq!(
            l.step(submit("482913"), T0 + 3).result,
            Err(Refusal::Locked)
        );
        assert!(matches!(l.state, State::Locked { .. }));
    }

    #[test]
    fn codes_expire_and_resends_are_limited() {
        let mut l = Login::new(Rules::default(), None, false);
        to_code_sent(&mut l, "111111");
        assert_eq!(
            l.step(submit("111111"), T0 + 600).result,
            Err(Refusal::CodeExpired)
        );
        // Too soon after the last send.
        let mut l2 = l.clone();
        if let State::CodeSent { sent_at, .. } = &mut l2.state {
            *sent_at = T0 + 590;
        }
        assert_eq!(
            l2.step(
                Event::Resend {
                    code: "2".into(),
                    salt: SALT
                },
                T0 + 600
            )
            .result,
            Err(Refusal::TooManySends { retry_after: 20 })
        );
        // A new code replaces the old one.
        let s = l.step(
            Event::Resend {
                code: "222222".into(),
                salt: SALT,
            },
            T0 + 601,
        );
        assert_eq!(s.result, Ok(()));
        assert_eq!(
            l.step(submit("111111"), T0 + 602).result,
            Err(Refusal::WrongCode { left: 4 })
        );
        let s = l.step(
            Event::Resend {
                code: "333333".into(),
                salt: SALT,
            },
            T0 + 640,
        );
        assert_eq!(s.result, Ok(()));
        // The third send was the last; wrong tries still count.
        let s = l.step(
            Event::Resend {
                code: "444444".into(),
                salt: SALT,
            },
            T0 + 700,
        );
        assert!(matches!(s.result, Err(Refusal::TooManySends { .. })));
        assert_eq!(l.step(submit("333333"), T0 + 701).result, Ok(()));
    }

    #[test]
    fn access_code_and_totp_need_to_be_available() {
        let mut l = Login::new(Rules::default(), None, false);
        l.step(Event::Open, T0);
        for factor in [Factor::AccessCode, Factor::Totp] {
            let s = l.step(Event::Choose { factor, code: None }, T0);
            assert_eq!(s.result, Err(Refusal::FactorUnavailable));
            assert!(matches!(l.state, State::Choosing { attempts: 0, .. }));
        }
        let mut l = Login::new(
            Rules::default(),
            Some(StoredCode::new("ZW-48-KP-77", SALT)),
            true,
        );
        l.step(Event::Open, T0);
        let s = l.step(
            Event::Choose {
                factor: Factor::AccessCode,
                code: None,
            },
            T0,
        );
        assert_eq!(s.result, Ok(()));
        assert!(
            s.effects.is_empty(),
            "nothing is sent: the sender passes it on"
        );
        assert_eq!(l.step(submit("zw48 kp77"), T0 + 5).result, Ok(()));

        let mut l = Login::new(Rules::default(), None, true);
        l.step(Event::Open, T0);
        l.step(
            Event::Choose {
                factor: Factor::Totp,
                code: None,
            },
            T0,
        );
        let bad = Event::Submit {
            code: "123456".into(),
            totp_valid: false,
        };
        assert_eq!(l.step(bad, T0).result, Err(Refusal::WrongCode { left: 4 }));
        let good = Event::Submit {
            code: "654321".into(),
            totp_valid: true,
        };
        assert_eq!(l.step(good, T0).result, Ok(()));
    }

    #[test]
    fn switching_factors_keeps_the_wrong_tries() {
        let mut login = Login::new(
            Rules::default(),
            Some(StoredCode::new("1234 5678", SALT)),
            false,
        );
        to_code_sent(&mut login, "123456");
        for _ in 0..4 {
            assert!(login.step(submit("000000"), T0 + 1).result.is_err());
        }
        assert!(login.step(Event::Back, T0 + 2).result.is_ok());
        assert!(matches!(login.state, State::Choosing { attempts: 4, .. }));
        let chosen = login.step(
            Event::Choose {
                factor: Factor::AccessCode,
                code: None,
            },
            T0 + 3,
        );
        assert!(chosen.result.is_ok());
        let last = login.step(submit("0000 0000"), T0 + 4);
        assert_eq!(last.result, Err(Refusal::Locked));
        assert!(last.effects.contains(&Effect::TellSenderLocked));
        // Back from nothing to go back from is refused.
        let mut fresh = Login::new(Rules::default(), None, false);
        assert_eq!(fresh.step(Event::Back, T0).result, Err(Refusal::OutOfOrder));
    }

    /// Issue 16, point 7: Back and choosing SMS (or e-mail) again is no way around the
    /// per-login send cap or the wait between sends.
    #[test]
    fn back_and_choose_again_does_not_reset_the_send_cap() {
        let rules = Rules::default();
        let mut login = Login::new(rules.clone(), None, false);
        to_code_sent(&mut login, "123456");
        let again = |login: &mut Login, at: i64| {
            if !matches!(login.state, State::Choosing { .. }) {
                assert!(login.step(Event::Back, at).result.is_ok());
            }
            login.step(
                Event::Choose {
                    factor: sms(),
                    code: Some(("654321".into(), SALT)),
                },
                at,
            )
        };
        // At once: wait first.
        let s = again(&mut login, T0 + 1);
        assert!(
            matches!(s.result, Err(Refusal::TooManySends { retry_after }) if retry_after > 0),
            "{s:?}"
        );
        assert!(s.effects.is_empty());
        // Spaced out: up to the cap, then no more, whichever factor.
        let mut sent = 1;
        for i in 1..10 {
            let s = again(&mut login, T0 + i * (rules.resend_after + 1));
            if s.result.is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, rules.max_sends);
        let by_mail = login.step(
            Event::Choose {
                factor: Factor::Email,
                code: Some(("111111".into(), SALT)),
            },
            T0 + 5000,
        );
        assert!(matches!(by_mail.result, Err(Refusal::TooManySends { .. })));
    }

    #[test]
    fn state_survives_storage() {
        let mut login = Login::new(
            Rules::default(),
            Some(StoredCode::new("1234 5678", SALT)),
            false,
        );
        to_code_sent(&mut login, "123456");
        let back = Login::from_json(&login.to_json()).expect("parses");
        assert_eq!(back, login);
        assert!(Login::from_json("{not json").is_none());
        let code =
            StoredCode::from_json(&StoredCode::new("1234 5678", SALT).to_json()).expect("code");
        assert!(code.matches("12345678") && !code.matches("12345679"));
        let mut n = 0u32;
        let access = make_access_code(|| {
            n += 1;
            n * 7_777_777
        });
        assert_eq!(access.len(), 9);
        assert_eq!(&access[4..5], " ");
    }

    #[test]
    fn codes_are_uniform_digits_and_stored_hashed() {
        let mut n = 0u32;
        let code = make_code(6, || {
            n += 1;
            if n == 1 { u32::MAX } else { 42 }
        });
        assert_eq!(
            code, "000042",
            "values above the last full range are redrawn"
        );
        assert_eq!(make_code(8, || 123_456_789).len(), 8);
        assert_eq!(make_code(3, || 7).len(), 6, "never fewer than 6 digits");
        let stored = StoredCode::new("482913", SALT);
        assert!(stored.matches("482913") && stored.matches(" 482-913 "));
        assert!(!stored.matches("482914") && !stored.matches(""));
        assert!(!format!("{stored:?}").contains("482913"));
    }
}
