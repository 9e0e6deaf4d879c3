//! Who sends as the domain, and is `p=reject` safe? From per-source totals (the store
//! adds up the rows of the period) to the sources table and the verdict.
//!
//! A source is one sending IP address. Its messages are *fully* aligned when every one
//! of them has both an aligned SPF pass and an aligned DKIM pass, *not* aligned when none
//! has either, and *partly* aligned otherwise. The domain is ready for `p=reject` when it
//! has reports at all and every source with at least 1 % of its messages passes DMARC
//! (SPF or DKIM aligned, as the reporters evaluated it) with at least 99 % of its own
//! messages: a source that would lose more of its mail under `p=reject` is named, so that
//! someone looks at it before the policy changes, while one glitch in a large sender's
//! thousands does not hold the domain back. Sources under 1 % (forwarders, the odd
//! spoofer) do not block.

use serde::Serialize;

/// One source's messages in the period, as the store adds them up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceTotals {
    /// The IP address as text (empty when the reporters left it out).
    pub ip: String,
    pub count: u64,
    /// Messages with an aligned SPF pass.
    pub spf_aligned: u64,
    /// Messages with an aligned DKIM pass.
    pub dkim_aligned: u64,
    /// Messages with either (passing DMARC).
    pub dmarc_pass: u64,
}

/// How a source's messages align.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    Full,
    Partial,
    None,
}

impl Alignment {
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Full => "full",
            Alignment::Partial => "partial",
            Alignment::None => "none",
        }
    }
}

/// One row of the sources table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub ip: String,
    pub count: u64,
    pub spf_aligned: u64,
    pub dkim_aligned: u64,
    pub alignment: Alignment,
    /// Messages that pass DMARC (not in the public JSON; the pages show the rate).
    #[serde(skip)]
    pub dmarc_pass: u64,
}

/// The summary for one domain, as `veilpost report summary --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub domain: String,
    pub messages: u64,
    pub sources: Vec<Source>,
    pub ready_for_reject: bool,
    pub blocking_sources: Vec<String>,
}

impl Source {
    /// The share of its messages that pass DMARC, 0 to 1.
    pub fn pass_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.dmarc_pass as f64 / self.count as f64
        }
    }
}

/// The sources table (most messages first) and the verdict. Totals for the same IP
/// are added together; inconsistent totals (more aligned than sent) are capped.
pub fn summarise(domain: &str, totals: impl IntoIterator<Item = SourceTotals>) -> Summary {
    let mut by_ip: std::collections::BTreeMap<String, SourceTotals> = Default::default();
    for t in totals {
        let e = by_ip.entry(t.ip.clone()).or_insert_with(|| SourceTotals {
            ip: t.ip.clone(),
            ..SourceTotals::default()
        });
        e.count = e.count.saturating_add(t.count);
        e.spf_aligned = e.spf_aligned.saturating_add(t.spf_aligned);
        e.dkim_aligned = e.dkim_aligned.saturating_add(t.dkim_aligned);
        e.dmarc_pass = e.dmarc_pass.saturating_add(t.dmarc_pass);
    }
    let mut sources: Vec<Source> = by_ip
        .into_values()
        .filter(|t| t.count > 0)
        .map(|t| {
            let spf = t.spf_aligned.min(t.count);
            let dkim = t.dkim_aligned.min(t.count);
            let pass = t.dmarc_pass.min(t.count).max(spf).max(dkim);
            let alignment = if spf == t.count && dkim == t.count {
                Alignment::Full
            } else if pass == 0 {
                Alignment::None
            } else {
                Alignment::Partial
            };
            Source {
                ip: t.ip,
                count: t.count,
                spf_aligned: spf,
                dkim_aligned: dkim,
                alignment,
                dmarc_pass: pass,
            }
        })
        .collect();
    sources.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.ip.cmp(&b.ip)));
    let messages: u64 = sources.iter().map(|s| s.count).sum();
    let blocking_sources: Vec<String> = sources
        .iter()
        .filter(|s| significant(s.count, messages) && !passes(s))
        .map(|s| s.ip.clone())
        .collect();
    Summary {
        domain: crate::domain(domain),
        messages,
        ready_for_reject: messages > 0 && blocking_sources.is_empty(),
        blocking_sources,
        sources,
    }
}

/// Whether a source passes DMARC: at least 99 % of its messages (in integers).
pub fn passes(s: &Source) -> bool {
    u128::from(s.dmarc_pass) * 100 >= u128::from(s.count) * 99
}

/// Whether `count` is at least 1 % of `messages` (in integers: no rounding at the edge).
pub fn significant(count: u64, messages: u64) -> bool {
    u128::from(count) * 100 >= u128::from(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ip: &str, count: u64, spf: u64, dkim: u64, pass: u64) -> SourceTotals {
        SourceTotals {
            ip: ip.into(),
            count,
            spf_aligned: spf,
            dkim_aligned: dkim,
            dmarc_pass: pass,
        }
    }

    #[test]
    fn alignment_table() {
        let cases = [
            (t("a", 10, 10, 10, 10), Alignment::Full),
            (t("a", 10, 10, 0, 10), Alignment::Partial),
            (t("a", 10, 0, 10, 10), Alignment::Partial),
            (t("a", 10, 5, 5, 10), Alignment::Partial),
            (t("a", 10, 1, 0, 1), Alignment::Partial),
            (t("a", 10, 0, 0, 0), Alignment::None),
            (t("a", 1, 1, 1, 1), Alignment::Full),
            // More aligned than sent is capped, not trusted.
            (t("a", 2, 5, 9, 9), Alignment::Full),
        ];
        for (totals, want) in cases {
            let s = summarise("praktijk.nl", [totals.clone()]);
            assert_eq!(s.sources[0].alignment, want, "{totals:?}");
        }
    }

    #[test]
    fn ready_for_reject_table() {
        // (sources, ready, blocking)
        let cases: Vec<(Vec<SourceTotals>, bool, Vec<&str>)> = vec![
            // No reports: no evidence, not ready.
            (vec![], false, vec![]),
            (vec![t("192.0.2.1", 100, 100, 100, 100)], true, vec![]),
            // SPF or DKIM aligned is enough.
            (
                vec![t("192.0.2.1", 60, 60, 0, 60), t("192.0.2.2", 40, 0, 40, 40)],
                true,
                vec![],
            ),
            // An unaligned source with 1 % or more blocks.
            (
                vec![t("192.0.2.1", 99, 99, 99, 99), t("192.0.2.9", 1, 0, 0, 0)],
                false,
                vec!["192.0.2.9"],
            ),
            // Under 1 %: a forwarder or a spoofer, not a sender of ours.
            (
                vec![
                    t("192.0.2.1", 1000, 1000, 1000, 1000),
                    t("192.0.2.9", 9, 0, 0, 0),
                ],
                true,
                vec![],
            ),
            // Exactly 1 % counts.
            (
                vec![
                    t("192.0.2.1", 990, 990, 990, 990),
                    t("192.0.2.9", 10, 0, 0, 0),
                ],
                false,
                vec!["192.0.2.9"],
            ),
            // A source that loses some of its mail blocks too…
            (
                vec![
                    t("192.0.2.1", 50, 50, 50, 50),
                    t("192.0.2.3", 50, 40, 0, 40),
                ],
                false,
                vec!["192.0.2.3"],
            ),
            (
                vec![
                    t("192.0.2.1", 900, 900, 900, 900),
                    t("192.0.2.3", 100, 98, 0, 98),
                ],
                false,
                vec!["192.0.2.3"],
            ),
            // …but not one glitch in a hundred.
            (
                vec![
                    t("192.0.2.1", 900, 900, 900, 900),
                    t("192.0.2.3", 100, 99, 0, 99),
                ],
                true,
                vec![],
            ),
            (vec![t("192.0.2.1", 4172, 4171, 4171, 4171)], true, vec![]),
            // Sorted by volume, most first.
            (
                vec![
                    t("192.0.2.5", 10, 0, 0, 0),
                    t("192.0.2.6", 30, 0, 0, 0),
                    t("192.0.2.1", 60, 60, 60, 60),
                ],
                false,
                vec!["192.0.2.6", "192.0.2.5"],
            ),
        ];
        for (totals, ready, blocking) in cases {
            let s = summarise("praktijk.nl", totals.clone());
            assert_eq!(s.ready_for_reject, ready, "{totals:?}");
            assert_eq!(s.blocking_sources, blocking, "{totals:?}");
        }
    }

    #[test]
    fn totals_of_one_ip_add_up_and_the_json_is_the_public_shape() {
        let s = summarise(
            "Praktijk.NL.",
            [
                t("192.0.2.1", 3, 3, 0, 3),
                t("192.0.2.1", 2, 0, 2, 2),
                t("2001:db8::1", 1, 0, 0, 0),
            ],
        );
        assert_eq!(s.messages, 6);
        assert_eq!(s.sources.len(), 2);
        let json = serde_json::to_value(&s).expect("test input");
        assert_eq!(
            json,
            serde_json::json!({
                "domain": "praktijk.nl",
                "messages": 6,
                "sources": [
                    {"ip": "192.0.2.1", "count": 5, "spf_aligned": 3, "dkim_aligned": 2,
                     "alignment": "partial"},
                    {"ip": "2001:db8::1", "count": 1, "spf_aligned": 0, "dkim_aligned": 0,
                     "alignment": "none"}
                ],
                "ready_for_reject": false,
                "blocking_sources": ["2001:db8::1"]
            })
        );
        assert!((s.sources[0].pass_rate() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn significance_has_no_rounding_edge() {
        assert!(significant(1, 100));
        assert!(!significant(1, 101));
        assert!(significant(0, 0));
        assert!(significant(u64::MAX, u64::MAX));
    }
}
