//! Words for people, in Dutch (the default) and English.

use std::time::Duration;

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Nederlands.
    #[default]
    Nl,
    /// English.
    En,
}

/// Pick the text for `lang`.
pub(crate) fn t(lang: Lang, nl: String, en: String) -> String {
    match lang {
        Lang::Nl => nl,
        Lang::En => en,
    }
}

/// `say!(lang, "nl {}", "en {}", args...)`.
macro_rules! say {
    ($lang:expr, $nl:literal, $en:literal $(, $arg:expr)* $(,)?) => {
        $crate::text::t($lang, format!($nl $(, $arg)*), format!($en $(, $arg)*))
    };
}
pub(crate) use say;

pub(crate) fn deadline(lang: Lang, d: Duration) -> String {
    say!(
        lang,
        "De controle duurde langer dan {} s en is afgebroken.",
        "The check took longer than {} s and was stopped.",
        d.as_secs()
    )
}

pub(crate) fn dns_error(lang: Lang, what: &str, why: &str) -> String {
    say!(
        lang,
        "DNS-fout bij opvragen van {}: {}",
        "DNS error looking up {}: {}",
        what,
        why
    )
}
