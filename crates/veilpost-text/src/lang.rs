//! The language of text meant for people. JSON output and logs are not translated.

/// Dutch (the default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Nederlands.
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// The ISO 639-1 code: `nl` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The language for a code (`nl`, `EN`, `en-GB`, `nl_NL`), if it is one of ours.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Pick the Dutch or the English text.
    pub fn t<'a>(&self, nl: &'a str, en: &'a str) -> &'a str {
        self.pick(nl, en)
    }

    /// Pick the Dutch or the English value.
    pub fn pick<T>(self, nl: T, en: T) -> T {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }

    pub fn is_nl(&self) -> bool {
        *self == Lang::Nl
    }

    /// `n` things, singular or plural: `count(1, ("poging", "pogingen"), ("try",
    /// "tries"))` is "1 poging" / "1 try", with 3 "3 pogingen" / "3 tries".
    pub fn count(self, n: i64, nl: (&str, &str), en: (&str, &str)) -> String {
        let (one, many) = self.pick(nl, en);
        format!("{n} {}", if n == 1 { one } else { many })
    }

    /// A wait as people say it: "45 seconden", "1 minuut", "9 minuten", "2 uur" (whole
    /// minutes and hours rounded up, so nobody comes back too early).
    pub fn duration(self, seconds: i64) -> String {
        let s = seconds.max(1);
        if s < 60 {
            self.count(s, ("seconde", "seconden"), ("second", "seconds"))
        } else if s < 3600 {
            self.count((s + 59) / 60, ("minuut", "minuten"), ("minute", "minutes"))
        } else {
            self.count((s + 3599) / 3600, ("uur", "uur"), ("hour", "hours"))
        }
    }
}

/// A language code that is not `nl` or `en`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLang(pub String);

impl std::fmt::Display for UnknownLang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown language {:?} (nl or en)", self.0)
    }
}

impl std::error::Error for UnknownLang {}

impl std::str::FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        Lang::from_code(s).ok_or_else(|| UnknownLang(s.to_string()))
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// `lang == "en"` in templates.
impl PartialEq<&str> for Lang {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_others_are_refused() {
        for (code, want) in [
            ("nl", Some(Lang::Nl)),
            ("en", Some(Lang::En)),
            ("EN", Some(Lang::En)),
            ("en-GB", Some(Lang::En)),
            ("nl_NL", Some(Lang::Nl)),
            (" nl ", Some(Lang::Nl)),
            ("de", None),
            ("", None),
            ("english", None),
        ] {
            assert_eq!(Lang::from_code(code), want, "{code:?}");
        }
        for lang in [Lang::Nl, Lang::En] {
            assert_eq!(lang.to_string().parse::<Lang>(), Ok(lang));
        }
        assert_eq!(
            "fr".parse::<Lang>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            "unknown language \"fr\" (nl or en)"
        );
        assert_eq!(Lang::default(), Lang::Nl);
        assert!(Lang::En == "en" && Lang::Nl != "en");
        assert_eq!(Lang::En.t("ja", "yes"), "yes");
    }

    #[test]
    fn counts_and_waits_read_naturally() {
        let tries = |l: Lang, n| l.count(n, ("poging", "pogingen"), ("try", "tries"));
        assert_eq!(tries(Lang::Nl, 1), "1 poging");
        assert_eq!(tries(Lang::Nl, 3), "3 pogingen");
        assert_eq!(tries(Lang::En, 1), "1 try");
        assert_eq!(tries(Lang::En, 0), "0 tries");
        for (secs, nl, en) in [
            (1, "1 seconde", "1 second"),
            (45, "45 seconden", "45 seconds"),
            (60, "1 minuut", "1 minute"),
            (61, "2 minuten", "2 minutes"),
            (540, "9 minuten", "9 minutes"),
            (3600, "1 uur", "1 hour"),
            (7201, "3 uur", "3 hours"),
            (-5, "1 seconde", "1 second"),
        ] {
            assert_eq!(
                (Lang::Nl.duration(secs), Lang::En.duration(secs)),
                (nl.into(), en.into())
            );
        }
    }
}
