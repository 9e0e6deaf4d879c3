//! Phishing signals, each a named finding: a known person's name on an outside address,
//! an address in the display name, look-alike sender and link domains, Reply-To elsewhere,
//! links that show one place and go to another (or to an IP, a user@host, a punycode or
//! mixed-script host), dangerous attachments, and a first-time sender.

use veilpost_policy::doublecheck::{is_free_mail, look_alike};

use crate::{Authenticity, Facts, Finding, Knowledge, domain_of, registrable};

/// Someone the organisation knows: staff or a contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    pub name: String,
    pub address: String,
}

/// A link as the message shows it: its text and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    pub text: String,
    pub href: String,
}

/// An attachment as the gatherer saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attachment {
    /// The file name given.
    pub name: String,
    /// The first bytes (for the file's real type).
    pub head: Vec<u8>,
    /// A password-protected archive (nothing inside can be checked).
    pub encrypted: bool,
    /// An archive inside an archive.
    pub nested_archive: bool,
    /// For an archive: the names of the files in it (lower case).
    pub inner: Vec<String>,
}

/// Names compared as people read them: letters and digits, one space, lower case.
fn normal_name(name: &str) -> String {
    normal_chars(name).collect()
}

/// The characters of [`normal_name`], one by one: every known person's name is compared
/// with the sender's for every message, and most differ in the first letter.
fn normal_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    let (mut started, mut gap) = (false, false);
    name.chars().flat_map(move |c| {
        if c.is_alphanumeric() {
            let space = (started && gap).then_some(' ');
            (started, gap) = (true, false);
            space
                .into_iter()
                .chain(Some(c.to_lowercase().next().unwrap_or(c)))
        } else {
            gap = true;
            None.into_iter().chain(None)
        }
    })
}

/// Whether `raw` is the name `normal` (a [`normal_name`]), without building it.
fn is_name(normal: &str, raw: &str) -> bool {
    normal.chars().eq(normal_chars(raw))
}

/// A name distinctive enough to be impersonated: two words, or one of six letters or more.
fn distinctive(normal: &str) -> bool {
    normal.split(' ').count() >= 2 || normal.chars().count() >= 6
}

/// The host of an http(s) link, lower case, without port and user info; and whether it
/// had user info (`https://bank.nl@evil.example/`).
fn link_host(href: &str) -> Option<(String, bool)> {
    let href = href.trim();
    let scheme = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    let skip = if scheme.starts_with("https://") {
        8
    } else if scheme.starts_with("http://") {
        7
    } else {
        return None;
    };
    let rest = &href[skip..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, authority),
    };
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6).to_string()
    } else {
        hostport.split(':').next().unwrap_or(hostport).to_string()
    };
    Some((host.trim_end_matches('.').to_ascii_lowercase(), userinfo))
}

/// A host-like word in a link's text (`www.rabobank.nl`, `https://x.nl/…`).
fn shown_host(text: &str) -> Option<String> {
    let t = text.trim();
    if let Some((h, _)) = link_host(t) {
        return Some(h);
    }
    let word = t.split_whitespace().next()?;
    let word = word
        .trim_end_matches(['.', ',', ')', '/'])
        .to_ascii_lowercase();
    let host = word.split('/').next().unwrap_or(&word);
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())))
    .then(|| host.to_string())
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok()))
}

/// Latin mixed with Cyrillic or Greek in one label (`pаypal` with a Cyrillic а).
fn mixed_script(host: &str) -> bool {
    host.split('.').any(|label| {
        let latin = label.chars().any(|c| c.is_ascii_alphabetic());
        let other = label.chars().any(|c| matches!(c as u32, 0x0370..=0x04FF));
        latin && other
    })
}

/// File types that run, open scripts or hide other files.
const DANGEROUS: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "cpl",
    "msi",
    "msp",
    "dll",
    "bat",
    "cmd",
    "ps1",
    "psm1",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "hta",
    "jar",
    "lnk",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "html",
    "htm",
    "shtml",
    "svg",
    "one",
    "docm",
    "xlsm",
    "pptm",
    "dotm",
    "xltm",
    "xlam",
    "ppam",
    "reg",
    "chm",
    "appx",
    "msix",
    "url",
    "library-ms",
    "sh",
];
const HARMLESS_LOOKING: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "jpg", "jpeg", "png", "txt", "odt", "zip",
];

/// Why a file name is dangerous by its extension, if it is.
fn dangerous_name(shown: &str) -> Option<String> {
    let name = shown
        .trim()
        .trim_end_matches(['.', ' '])
        .to_ascii_lowercase();
    let mut parts = name.rsplit('.');
    let ext = parts.next().unwrap_or("");
    let before = parts.next().unwrap_or("");
    if name.contains('.') && DANGEROUS.contains(&ext) {
        if HARMLESS_LOOKING.contains(&before) {
            return Some(format!("{shown} hides .{ext} behind .{before}"));
        }
        return Some(format!("{shown}: .{ext} files run or open code"));
    }
    None
}

/// Why an attachment is dangerous, if it is: its name, what is in it (an archive's
/// files by name), or what it really is.
fn dangerous(a: &Attachment) -> Option<String> {
    if let Some(why) = dangerous_name(&a.name) {
        return Some(why);
    }
    if let Some(why) = a.inner.iter().find_map(|n| dangerous_name(n)) {
        return Some(format!("{} holds {why}", a.name));
    }
    if a.head.starts_with(b"MZ") {
        return Some(format!("{} is a Windows program", a.name));
    }
    if a.head.starts_with(b"\x7fELF") {
        return Some(format!("{} is a program", a.name));
    }
    let head = String::from_utf8_lossy(&a.head[..a.head.len().min(256)]).to_ascii_lowercase();
    if head.trim_start().starts_with("<!doctype html")
        || head.trim_start().starts_with("<html")
        || head.contains("<script")
    {
        return Some(format!("{} is a web page", a.name));
    }
    None
}

fn known_domains(knowledge: &Knowledge<'_>) -> Vec<String> {
    let mut all: Vec<String> = knowledge
        .own_domains
        .iter()
        .chain(knowledge.partners)
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    all.extend(knowledge.contacts.iter().map(|p| domain_of(&p.address)));
    all.retain(|d| !d.is_empty() && !is_free_mail(d));
    all.sort();
    all.dedup();
    all
}

pub(crate) fn findings(
    facts: &Facts<'_>,
    _auth: &Authenticity,
    knowledge: &Knowledge<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let from_domain = domain_of(facts.from);
    let from_org = registrable(&from_domain);
    let own = knowledge
        .own_domains
        .iter()
        .any(|d| registrable(d) == from_org);
    let known = known_domains(knowledge);

    people_findings(facts, knowledge, own, &from_org, &mut out);
    // An address in the display name that is not the sender's.
    if let Some(shown) = facts
        .from_name
        .split(|c: char| c.is_whitespace() || "<>()\"'".contains(c))
        .find(|w| w.contains('@') && w.contains('.'))
        && registrable(shown) != from_org
    {
        out.push(
            Finding::new(
                "display_name.address",
                4,
                format!("the name shows {shown}, the mail is from {}", facts.from),
            )
            .warn(
                format!(
                    "De naam toont {shown}, maar het bericht komt van {}.",
                    facts.from
                ),
                format!(
                    "The name shows {shown}, but the message comes from {}.",
                    facts.from
                ),
            ),
        );
    }
    // A sender domain that looks like one the organisation knows.
    if !own && let Some(like) = look_alike(&from_domain, &known) {
        out.push(
            Finding::new(
                "lookalike.sender",
                7,
                format!("{from_domain} looks like {like}"),
            )
            .warn(
                format!("Het afzenderdomein {from_domain} lijkt op {like}, maar is het niet."),
                format!("The sender's domain {from_domain} looks like {like}, but is not."),
            ),
        );
    }
    // Reply-To elsewhere: answers go to someone else than the sender.
    if let Some(reply_to) = facts.reply_to
        && registrable(reply_to) != from_org
        && !domain_of(reply_to).is_empty()
    {
        let free = is_free_mail(&domain_of(reply_to));
        out.push(
            Finding::new(
                "reply_to.other_domain",
                if free { 4 } else { 2 },
                format!("Reply-To {reply_to}, From {}", facts.from),
            )
            .warn(
                format!("Antwoorden gaan naar {reply_to}, niet naar de afzender."),
                format!("Replies go to {reply_to}, not to the sender."),
            ),
        );
    }
    link_findings(facts, &known, &mut out);
    attachment_findings(facts, &mut out);
    if !own && !knowledge.seen_before {
        out.push(
            Finding::new(
                "sender.first_time",
                0,
                format!("first message from {}", facts.from),
            )
            .warn(
                "Dit is het eerste bericht van deze afzender.",
                "This is the first message from this sender.",
            ),
        );
    }
    if !own {
        out.push(
            Finding::new(
                "sender.external",
                0,
                format!("from outside: {}", facts.from),
            )
            .warn(
                "Externe afzender: klik niet zomaar op links en bijlagen.",
                "External sender: take care with links and attachments.",
            ),
        );
    }
    out
}

/// A colleague's or a contact's name on an address that is not theirs.
fn people_findings(
    facts: &Facts<'_>,
    knowledge: &Knowledge<'_>,
    own: bool,
    from_org: &str,
    out: &mut Vec<Finding>,
) {
    let name = normal_name(facts.from_name);
    if !own && distinctive(&name) {
        if let Some(p) = knowledge.staff.iter().find(|p| is_name(&name, &p.name)) {
            out.push(
                Finding::new(
                    "impersonation.staff",
                    7,
                    format!("{:?} is a colleague's name, sent from {}", facts.from_name, facts.from),
                )
                .warn(
                    format!("Let op: de naam is die van uw collega {}, maar het adres {} is van buiten.", p.name, facts.from),
                    format!("Careful: the name is your colleague {}'s, but the address {} is from outside.", p.name, facts.from),
                ),
            );
        } else if let Some(p) = knowledge
            .contacts
            .iter()
            .find(|p| is_name(&name, &p.name) && registrable(&p.address) != *from_org)
        {
            out.push(
                Finding::new(
                    "impersonation.contact",
                    5,
                    format!(
                        "{:?} is a contact's name ({}), sent from {}",
                        facts.from_name, p.address, facts.from
                    ),
                )
                .warn(
                    format!(
                        "Let op: de naam is die van {}, maar het adres is anders ({}).",
                        p.name, facts.from
                    ),
                    format!(
                        "Careful: the name is {}'s, but the address differs ({}).",
                        p.name, facts.from
                    ),
                ),
            );
        }
    }
}

/// Dangerous, encrypted and nested attachments.
fn attachment_findings(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for a in facts.attachments {
        if let Some(why) = dangerous(a) {
            out.push(Finding::new("attachment.dangerous", 8, why).warn(
                format!("De bijlage {} kan schadelijk zijn: open die niet.", a.name),
                format!("The attachment {} may be harmful: do not open it.", a.name),
            ));
        } else if a.encrypted {
            out.push(Finding::new(
                "attachment.encrypted",
                4,
                format!("{} is a password-protected archive (not checkable)", a.name),
            ).warn(
                format!("De bijlage {} is met een wachtwoord beveiligd en kon niet worden gecontroleerd.", a.name),
                format!("The attachment {} is password-protected and could not be checked.", a.name),
            ));
        } else if a.nested_archive {
            out.push(Finding::new(
                "attachment.nested",
                3,
                format!("{} holds an archive inside an archive", a.name),
            ));
        }
    }
}

/// Links: shown one place, going to another; IP literals, user@host, punycode and mixed
/// scripts; look-alikes of known domains. One finding of each kind per message.
fn link_findings(facts: &Facts<'_>, known: &[String], out: &mut Vec<Finding>) {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut push = |f: Finding, out: &mut Vec<Finding>| {
        if !seen.contains(&f.name) {
            seen.push(f.name);
            out.push(f);
        }
    };
    // Mail repeats its links: each (host, what the text shows) is judged once.
    let mut judged: std::collections::HashSet<(String, Option<String>, bool)> =
        std::collections::HashSet::new();
    for link in facts.links {
        let Some((host, userinfo)) = link_host(&link.href) else {
            continue;
        };
        let shown = shown_host(&link.text);
        if !judged.insert((host.clone(), shown.clone(), userinfo)) {
            continue;
        }
        if let Some(shown) = shown
            && registrable(&shown) != registrable(&host)
        {
            // Showing a domain the organisation knows and going elsewhere is the lure;
            // a newsletter's own name over its click counter is everyday mail, noted
            // (it counts with other signals) but not enough for a warning of its own.
            let shown_org = registrable(&shown);
            let trusted = known.iter().any(|k| registrable(k) == shown_org);
            push(
                Finding::new(
                    "link.mismatch",
                    if trusted { 5 } else { 2 },
                    format!("link shows {shown}, goes to {host}"),
                )
                .warn(
                    format!("Een link toont {shown}, maar gaat naar {host}."),
                    format!("A link shows {shown}, but goes to {host}."),
                ),
                out,
            );
        }
        if is_ip(&host) {
            push(
                Finding::new("link.ip_literal", 3, format!("link to the address {host}")),
                out,
            );
        }
        if userinfo {
            push(
                Finding::new(
                    "link.userinfo",
                    4,
                    format!("link with a name before @{host}"),
                ),
                out,
            );
        }
        if host.split('.').any(|l| l.starts_with("xn--")) || mixed_script(&host) {
            push(
                Finding::new("link.punycode", 3, format!("link to {host}")),
                out,
            );
        }
        if let Some(like) =
            look_alike(&host, known).or_else(|| look_alike(&registrable(&host), known))
        {
            push(
                Finding::new(
                    "lookalike.link",
                    6,
                    format!("link host {host} looks like {like}"),
                )
                .warn(
                    format!("Een link gaat naar {host}; dat lijkt op {like}, maar is het niet."),
                    format!("A link goes to {host}; it looks like {like}, but is not."),
                ),
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_people_read_them() {
        for (raw, normal) in [
            ("Ann Jansen", "ann jansen"),
            ("  \"ANN   JANSEN\" ", "ann jansen"),
            ("Jansen-de Vries, A.", "jansen de vries a"),
            ("Ömer  Çelik", "ömer çelik"),
            (
                "dr. P. van der Berg (huisarts)",
                "dr p van der berg huisarts",
            ),
            ("", ""),
            ("--  ..", ""),
        ] {
            assert_eq!(normal_name(raw), normal, "{raw:?}");
            assert!(is_name(normal, raw), "{raw:?}");
        }
        assert!(!is_name("ann jansen", "Ann Janssen"));
        assert!(!is_name("ann jansen", "Ann Jansen Jr"));
        assert!(!is_name("ann jansen", "Ann"));
    }
}
