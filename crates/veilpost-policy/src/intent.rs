//! What the sender asked for, typed: parsed once at the edge from subject tags (mail
//! submitted over SMTP) and handed to the policy as data.
//!
//! | tag | meaning |
//! | --- | --- |
//! | `[veilig]`, `[secure]` | the secure route, whatever the scan says |
//! | `[sms 06-12345678]` | the number the portal sends its SMS codes to |
//! | `[zip]` | attachments as an AES-256 ZIP, the password by SMS |
//! | `[upload]` | an upload request: the portal, with the upload page first |
//!
//! Every tag also asks for the secure route, and every tag is taken out of the subject
//! before anyone sees it.

use crate::SECURE_TAGS;

/// The sender's intent for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Intent {
    /// `[veilig]` / `[secure]`.
    pub secure: bool,
    /// `[sms …]`: the number, normalised (E.164).
    pub sms: Option<String>,
    /// `[zip]`.
    pub zip: bool,
    /// `[upload]`.
    pub upload: bool,
    /// A reference for the recipient's notification ("Uw uitslag van 2 december"),
    /// chosen by the sender when composing on the web; never taken from the subject.
    pub reference: Option<String>,
}

impl Intent {
    /// Both asks together: a message composed on the web with a tag typed in its
    /// subject as well asks for everything either asks for (the typed number first).
    pub fn and(self, other: Intent) -> Intent {
        Intent {
            secure: self.secure || other.secure,
            sms: self.sms.or(other.sms),
            zip: self.zip || other.zip,
            upload: self.upload || other.upload,
            reference: self.reference.or(other.reference),
        }
    }

    /// Does the sender ask for the secure route (any tag does)?
    pub fn forces_secure(&self) -> bool {
        self.secure || self.sms.is_some() || self.zip || self.upload
    }

    /// The intent in `subject`, and the subject without its tags; `None` when it holds no
    /// tag. `normalize_phone` turns the number in an SMS tag into E.164 (a tag with a
    /// number it refuses is not a tag).
    pub fn from_subject(
        subject: &str,
        normalize_phone: impl Fn(&str) -> Option<String>,
    ) -> Option<(Intent, String)> {
        let mut intent = Intent::default();
        let mut rest = subject.to_string();
        if let Some((phone, after)) = sms_tag(&rest, &normalize_phone) {
            intent.sms = Some(phone);
            rest = after;
        }
        if let Some(after) = take_tag(&rest, "[zip]") {
            intent.zip = true;
            rest = after;
        }
        if let Some(after) = take_tag(&rest, "[upload]") {
            intent.upload = true;
            rest = after;
        }
        for tag in SECURE_TAGS {
            if let Some(after) = take_tag(&rest, tag) {
                intent.secure = true;
                rest = after;
                break;
            }
        }
        intent.forces_secure().then_some((intent, rest))
    }
}

/// `tag` (ASCII, case-insensitive) taken out of `subject`, spaces tidied.
pub fn take_tag(subject: &str, tag: &str) -> Option<String> {
    // Tags are ASCII, so a byte window that matches starts and ends on char boundaries.
    let at = subject
        .as_bytes()
        .windows(tag.len())
        .position(|w| w.eq_ignore_ascii_case(tag.as_bytes()))?;
    let rest = format!("{}{}", &subject[..at], &subject[at + tag.len()..]);
    Some(rest.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `[sms 06-12345678]` or `[sms: +32…]`: the number and the subject without the tag.
fn sms_tag(subject: &str, normalize: &impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
    let lower = subject.to_ascii_lowercase();
    let start = lower.find("[sms")?;
    let end = start + lower[start..].find(']')?;
    let inner = subject[start + 4..end].trim_start_matches(':').trim();
    let phone = normalize(inner)?;
    let rest = format!("{}{}", &subject[..start], &subject[end + 1..]);
    Some((phone, rest.split_whitespace().collect::<Vec<_>>().join(" ")))
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_intent_travels_as_data_and_adds_up() {
        let given = Intent {
            secure: true,
            sms: Some("+31612345678".into()),
            ..Intent::default()
        };
        let json = serde_json::to_string(&given).expect("json");
        assert_eq!(
            serde_json::from_str::<Intent>(&json).ok(),
            Some(given.clone())
        );
        // Missing fields read as not asked; the typed subject adds to the given intent.
        assert_eq!(
            serde_json::from_str::<Intent>("{\"zip\": true}").ok(),
            Some(Intent {
                zip: true,
                ..Intent::default()
            })
        );
        let typed = Intent {
            upload: true,
            sms: Some("+32470123456".into()),
            ..Intent::default()
        };
        let both = given.and(typed);
        assert!(both.secure && both.upload && !both.zip);
        assert_eq!(both.sms.as_deref(), Some("+31612345678"));
        assert_eq!(Intent::default().and(Intent::default()), Intent::default());
    }

    use super::*;

    /// Dutch mobile numbers and +-numbers, as the real normaliser takes them.
    fn phone(s: &str) -> Option<String> {
        let digits: String = s
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        if let Some(rest) = digits.strip_prefix("06") {
            (rest.len() == 8).then(|| format!("+316{rest}"))
        } else {
            (digits.starts_with('+') && digits.len() >= 10).then_some(digits)
        }
    }

    #[test]
    fn table() {
        let none = Intent::default();
        let cases: Vec<(&str, Option<(Intent, &str)>)> = vec![
            ("Verwijzing", None),
            ("Veilig thuis", None),
            (
                "[veilig] Verwijzing",
                Some((
                    Intent {
                        secure: true,
                        ..none.clone()
                    },
                    "Verwijzing",
                )),
            ),
            (
                "Re: [SECURE]  uitslag",
                Some((
                    Intent {
                        secure: true,
                        ..none.clone()
                    },
                    "Re: uitslag",
                )),
            ),
            (
                "[SMS 06-1234 5678] Uitslag",
                Some((
                    Intent {
                        sms: Some("+31612345678".into()),
                        ..none.clone()
                    },
                    "Uitslag",
                )),
            ),
            (
                "Uitslag [sms: +32470123456]",
                Some((
                    Intent {
                        sms: Some("+32470123456".into()),
                        ..none.clone()
                    },
                    "Uitslag",
                )),
            ),
            ("[sms nope] x", None),
            (
                "[zip] Bijlagen",
                Some((
                    Intent {
                        zip: true,
                        ..none.clone()
                    },
                    "Bijlagen",
                )),
            ),
            (
                "[Upload] Graag uw documenten",
                Some((
                    Intent {
                        upload: true,
                        ..none.clone()
                    },
                    "Graag uw documenten",
                )),
            ),
            (
                "[upload] [sms 0612345678] [veilig] Stukken",
                Some((
                    Intent {
                        secure: true,
                        sms: Some("+31612345678".into()),
                        zip: false,
                        upload: true,
                        reference: None,
                    },
                    "Stukken",
                )),
            ),
            (
                "İİİ [veilig] x",
                Some((
                    Intent {
                        secure: true,
                        ..none.clone()
                    },
                    "İİİ x",
                )),
            ),
            ("", None),
        ];
        for (subject, want) in cases {
            let got = Intent::from_subject(subject, phone);
            let want = want.map(|(i, s)| (i, s.to_string()));
            assert_eq!(got, want, "{subject:?}");
        }
        assert!(!none.forces_secure());
        assert!(Intent { zip: true, ..none }.forces_secure());
    }
}
