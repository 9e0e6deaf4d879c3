//! Words about DMARC and TLS reports, for the pages and the command line.

use crate::Lang;

/// Why a report was set aside (the reason as stored: `not_our_domain`, …).
pub fn aside_reason(lang: Lang, reason: &str) -> &'static str {
    let (nl, en) = match reason {
        "not_our_domain" => (
            "gaat over een domein dat wij niet bedienen",
            "about a domain we do not serve",
        ),
        "future_dates" => (
            "de periode ligt in de toekomst",
            "its period lies in the future",
        ),
        "backward_dates" => (
            "de periode eindigt voor hij begint",
            "its period ends before it begins",
        ),
        "unauthenticated" => (
            "de mail waarin het kwam is niet echt bevonden",
            "the mail it came in did not authenticate",
        ),
        "duplicate" => ("al eerder geteld", "counted before"),
        _ => ("onleesbaar", "unreadable"),
    };
    lang.t(nl, en)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_words_in_both_languages() {
        for r in [
            "not_our_domain",
            "future_dates",
            "backward_dates",
            "unauthenticated",
            "duplicate",
            "unreadable",
        ] {
            let (nl, en) = (aside_reason(Lang::Nl, r), aside_reason(Lang::En, r));
            assert!(!nl.is_empty() && !en.is_empty() && nl != en, "{r}");
        }
    }
}
