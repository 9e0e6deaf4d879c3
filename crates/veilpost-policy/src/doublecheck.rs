//! The double-check (pure): reasons to hold a message for the sender's confirmation before
//! it goes. About two thirds of reported data breaches in Dutch care are mail to the wrong
//! person, so each rule catches one way that happens:
//!
//! * a recipient the organisation has never written to (`new_recipient`);
//! * a recipient domain that looks like a known one but is not: one typing slip
//!   (`zorggroep-oost.nl` / `zorggroep-ost.nl`), or the same after folding look-alike
//!   characters (`0`/`o`, `1`/`l`, `rn`/`m`, `vv`/`w`, Cyrillic letters, hyphens:
//!   `zorggroep0ost.nl` / `zorggroep-oost.nl`) (`look_alike`);
//! * many outside addresses visible to each other in To/Cc (`many_visible`: suggest Bcc);
//! * sensitive content to a free-mail domain (`free_mail`).

use serde::{Deserialize, Serialize};
use veilpost_text::Lang;

/// Free-mail domains common in the Netherlands (and the big international ones).
pub const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "hotmail.com",
    "hotmail.nl",
    "outlook.com",
    "outlook.nl",
    "live.nl",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.nl",
    "icloud.com",
    "me.com",
    "ziggo.nl",
    "kpnmail.nl",
    "kpnplanet.nl",
    "planet.nl",
    "home.nl",
    "hetnet.nl",
    "casema.nl",
    "upcmail.nl",
    "chello.nl",
    "xs4all.nl",
    "online.nl",
    "telfort.nl",
    "tele2.nl",
    "zeelandnet.nl",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.net",
];

/// Is `domain` a free-mail provider's?
pub fn is_free_mail(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    FREE_MAIL.contains(&d.as_str())
}

/// Fold characters that look alike into one form, and drop hyphens: two domains with the
/// same skeleton are easily taken for each other.
pub fn skeleton(domain: &str) -> String {
    let lower = domain.trim_end_matches('.').to_lowercase();
    let mut s = String::with_capacity(lower.len());
    for c in lower.chars() {
        let folded = match c {
            '0' | 'о' | 'ο' => 'o',
            '1' | 'i' | '|' | 'і' | 'ӏ' | 'ı' => 'l',
            'а' | 'α' => 'a',
            'е' | 'ε' => 'e',
            'р' | 'ρ' => 'p',
            'с' | 'ϲ' => 'c',
            'х' | 'χ' => 'x',
            'у' => 'y',
            'к' | 'κ' => 'k',
            'м' => 'm',
            'н' => 'h',
            'т' | 'τ' => 't',
            'в' => 'b',
            '5' => 's',
            '-' | '_' => continue,
            other => other,
        };
        s.push(folded);
    }
    s.replace("rn", "m").replace("vv", "w").replace("cl", "d")
}

/// Edit distance with adjacent swaps (optimal string alignment), on characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// The known domain `domain` could be mistaken for, if any (never itself or its own
/// subdomains): the same skeleton (also when written in punycode), the same name under
/// another suffix, one typing slip, or the known name inside another one
/// (`mijn-umcutrecht.nl`, `labnoord-zorg.nl`). Short names (under six characters before
/// the suffix) need more than one slip's likeness, since one slip between short names is
/// usually just another name.
pub fn look_alike<'a>(domain: &str, known: &'a [String]) -> Option<&'a str> {
    let d = domain.trim_end_matches('.').to_lowercase();
    // What people see is the Unicode form of a punycode name.
    let d = match idna::domain_to_unicode(&d) {
        (unicode, Ok(())) => unicode,
        _ => d,
    };
    let sk = skeleton(&d);
    let core = |x: &str| {
        x.rsplit_once('.')
            .map_or(x.to_string(), |(c, _)| c.to_string())
    };
    // The message's side once; the known side (often hundreds) as cheaply as it goes.
    let dc = core(&d);
    let (sk_dc, d_len) = (skeleton(&dc), d.chars().count());
    known.iter().map(String::as_str).find(|k| {
        let k = k.trim_end_matches('.').to_lowercase();
        if k == d {
            return false;
        }
        if skeleton(&k) == sk {
            return true;
        }
        let kc = core(&k);
        let kc_len = kc.chars().count();
        if kc_len < 4 {
            return false;
        }
        // The same name under another suffix (apotheek.nl / apotheek.com).
        let sk_kc = skeleton(&kc);
        if sk_kc == sk_dc {
            return true;
        }
        if kc_len < 6 {
            return false;
        }
        // One slip (an edit is at least the difference in length).
        if k.chars().count().abs_diff(d_len) <= 1 && edit_distance(&k, &d) == 1 {
            return true;
        }
        // The known name inside another name, not as a subdomain of the known one.
        sk_dc.contains(&sk_kc) && !d.ends_with(&format!(".{k}"))
    })
}

/// Why a message waits for the sender's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Hold {
    /// Never written to before by the organisation.
    NewRecipient { address: String },
    /// The domain looks like a known one.
    LookAlike { address: String, resembles: String },
    /// Outside addresses see each other in To/Cc.
    ManyVisible { count: usize },
    /// Sensitive content to a free-mail address.
    FreeMail { address: String },
}

impl Hold {
    /// One line for the sender, in Dutch or English.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang == Lang::Nl) {
            (Hold::NewRecipient { address }, true) => {
                format!("{address}: aan dit adres is nog nooit gemaild")
            }
            (Hold::NewRecipient { address }, false) => {
                format!("{address}: never written to before")
            }
            (Hold::LookAlike { address, resembles }, true) => {
                format!("{address}: lijkt op {resembles}, maar is het niet")
            }
            (Hold::LookAlike { address, resembles }, false) => {
                format!("{address}: looks like {resembles}, but is not")
            }
            (Hold::ManyVisible { count }, true) => {
                format!("{count} externe adressen zien elkaar in Aan/Cc: gebruik Bcc")
            }
            (Hold::ManyVisible { count }, false) => {
                format!("{count} outside addresses see each other in To/Cc: use Bcc")
            }
            (Hold::FreeMail { address }, true) => {
                format!("{address}: gevoelige gegevens naar een gratis maildienst")
            }
            (Hold::FreeMail { address }, false) => {
                format!("{address}: sensitive data to a free mail service")
            }
        }
    }
}

/// Which rules are on (each can be switched per organisation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rules {
    pub new_recipient: bool,
    pub look_alike: bool,
    /// Hold when at least this many outside addresses are visible (0: off).
    pub many_visible: usize,
    pub free_mail: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            new_recipient: true,
            look_alike: true,
            many_visible: 5,
            free_mail: true,
        }
    }
}

/// What the double-check looks at.
#[derive(Debug, Clone, Default)]
pub struct Outgoing<'a> {
    /// Envelope recipients outside the organisation.
    pub recipients: &'a [String],
    /// Outside addresses in To and Cc (not Bcc).
    pub visible: usize,
    /// The scan found sensitive content.
    pub sensitive: bool,
}

/// The reasons to hold, given which addresses were written to before (`is_known`) and
/// the domains the organisation knows (contacts, partners, earlier recipients).
pub fn check(
    rules: &Rules,
    out: &Outgoing<'_>,
    is_known: impl Fn(&str) -> bool,
    known_domains: &[String],
) -> Vec<Hold> {
    let mut holds = Vec::new();
    for address in out.recipients {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        // An address the organisation knows (confirmed once) is not held for its domain.
        if rules.look_alike
            && !is_known(address)
            && let Some(resembles) = look_alike(domain, known_domains)
        {
            holds.push(Hold::LookAlike {
                address: address.clone(),
                resembles: resembles.to_string(),
            });
        } else if rules.new_recipient && !is_known(address) {
            holds.push(Hold::NewRecipient {
                address: address.clone(),
            });
        }
        if rules.free_mail && out.sensitive && is_free_mail(domain) {
            holds.push(Hold::FreeMail {
                address: address.clone(),
            });
        }
    }
    if rules.many_visible > 0 && out.visible >= rules.many_visible {
        holds.push(Hold::ManyVisible { count: out.visible });
    }
    holds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        [
            "zorggroep-oost.nl",
            "ziekenhuis-rivierenland.nl",
            "ggz.nl",
            "apotheek.nl",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn look_alike_domains() {
        let k = known();
        for (domain, resembles) in [
            ("zorggroep0ost.nl", "zorggroep-oost.nl"),
            ("zorggroepoost.nl", "zorggroep-oost.nl"),
            ("zorggroep-ost.nl", "zorggroep-oost.nl"),
            ("zorggreop-oost.nl", "zorggroep-oost.nl"),
            ("ziekenhuis-rivierenIand.nl", "ziekenhuis-rivierenland.nl"),
            ("ziekenhuis-rivieren1and.nl", "ziekenhuis-rivierenland.nl"),
            ("zorggroep-оost.nl", "zorggroep-oost.nl"),
            ("apotheek.com", "apotheek.nl"),
            ("xn--zorggroep-ost-r7k.nl", "zorggroep-oost.nl"),
            ("mijn-zorggroep-oost.nl", "zorggroep-oost.nl"),
            ("zorggroep-oost-betalingen.com", "zorggroep-oost.nl"),
        ] {
            assert_eq!(look_alike(domain, &k), Some(resembles), "{domain}");
        }
        for other in [
            "zorggroep-oost.nl",
            "ZORGGROEP-OOST.NL",
            "ggd.nl",
            "example.org",
            "huisarts.nl",
            // Its own subdomains are itself.
            "mail.zorggroep-oost.nl",
        ] {
            assert_eq!(look_alike(other, &k), None, "{other}");
        }
        // rn / m, vv / w.
        let k = vec!["modem.nl".to_string(), "wereld.nl".to_string()];
        assert_eq!(look_alike("rnodem.nl", &k), Some("modem.nl"));
        assert_eq!(look_alike("vvereld.nl", &k), Some("wereld.nl"));
        // Short names: another suffix counts from four letters, a slip or the name inside
        // another from six; below four only the same skeleton.
        let k = vec!["umcu.nl".to_string(), "ggd.nl".to_string()];
        assert_eq!(look_alike("umcu.com", &k), Some("umcu.nl"));
        assert_eq!(look_alike("ggd.com", &k), None);
        assert_eq!(look_alike("9gd.nl", &k), None);
        for other in ["umcx.nl", "mijn-umcu.nl", "umcu-betalen.nl"] {
            assert_eq!(look_alike(other, &k), None, "{other}");
        }
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn the_rules_together() {
        let recipients: Vec<String> = [
            "dokter@zorggroep0ost.nl",
            "nieuw@huisarts.nl",
            "bekend@apotheek.nl",
            "patient@gmail.com",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = Outgoing {
            recipients: &recipients,
            visible: 6,
            sensitive: true,
        };
        let holds = check(
            &Rules::default(),
            &out,
            |a| a == "bekend@apotheek.nl",
            &known(),
        );
        assert_eq!(
            holds,
            vec![
                Hold::LookAlike {
                    address: "dokter@zorggroep0ost.nl".into(),
                    resembles: "zorggroep-oost.nl".into()
                },
                Hold::NewRecipient {
                    address: "nieuw@huisarts.nl".into()
                },
                Hold::NewRecipient {
                    address: "patient@gmail.com".into()
                },
                Hold::FreeMail {
                    address: "patient@gmail.com".into()
                },
                Hold::ManyVisible { count: 6 },
            ]
        );
        // Clean mail to free mail is fine; rules switch off one by one.
        let clean = Outgoing {
            sensitive: false,
            visible: 1,
            ..out.clone()
        };
        let off = Rules {
            new_recipient: false,
            look_alike: false,
            many_visible: 0,
            free_mail: true,
        };
        assert!(check(&off, &clean, |_| false, &known()).is_empty());
        // Confirmed once, a look-alike address is known and no longer held.
        let only = vec!["dokter@zorggroep0ost.nl".to_string()];
        let once = Outgoing {
            recipients: &only,
            visible: 1,
            sensitive: false,
        };
        assert!(
            check(
                &Rules::default(),
                &once,
                |a| a == "dokter@zorggroep0ost.nl",
                &known()
            )
            .is_empty()
        );
        assert!(
            is_free_mail("KPNMAIL.NL") && is_free_mail("live.nl") && !is_free_mail("praktijk.nl")
        );
    }
}
