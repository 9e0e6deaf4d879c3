//! What the reports pages show for one domain, from the stored rows of a period: the
//! summary (the same as `veilpost report summary`), each source with what it signs and
//! sends as, the split per reporter, the pass rate per day, and the trend as an SVG chart
//! drawn here (no JavaScript on the page).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::summary::{Alignment, SourceTotals, Summary, summarise};

/// One stored DMARC row, as the pages need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowFacts {
    pub reporter: String,
    /// The start of the report's period, Unix seconds.
    pub begin: i64,
    pub ip: String,
    pub count: u64,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub dkim_domain: String,
    pub dkim_selector: String,
    pub spf_domain: String,
}

/// A source with what it was seen signing and sending as.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceDetail {
    pub ip: String,
    pub count: u64,
    pub spf_aligned: u64,
    pub dkim_aligned: u64,
    pub dmarc_pass: u64,
    pub alignment: Alignment,
    /// The DKIM signing domain and selector seen most (`d=… s=…`), empty when none.
    pub dkim: String,
    /// The SPF domain seen most, empty when none.
    pub spf_domain: String,
    /// Whether `p=reject` would lose this source's mail (see [`Summary`]).
    pub blocking: bool,
}

impl SourceDetail {
    /// The share of its messages passing DMARC, in whole percent (rounded down, so 99.9 %
    /// does not read as 100).
    pub fn pass_percent(&self) -> u64 {
        (self.dmarc_pass * 100).checked_div(self.count).unwrap_or(0)
    }
}

/// One reporter's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReporterLine {
    pub reporter: String,
    pub count: u64,
    pub dmarc_pass: u64,
}

impl ReporterLine {
    pub fn pass_percent(&self) -> u64 {
        (self.dmarc_pass * 100).checked_div(self.count).unwrap_or(0)
    }
}

/// The messages of one day (UTC) and how many passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayPoint {
    /// The day's start, Unix seconds.
    pub day: i64,
    pub count: u64,
    pub dmarc_pass: u64,
}

/// Everything the domain page shows from DMARC reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainView {
    pub summary: Summary,
    pub sources: Vec<SourceDetail>,
    pub reporters: Vec<ReporterLine>,
    pub trend: Vec<DayPoint>,
}

/// The view of `domain` from its rows.
pub fn domain_view(domain: &str, rows: &[RowFacts]) -> DomainView {
    let mut totals: BTreeMap<&str, SourceTotals> = BTreeMap::new();
    // Per source, messages per DKIM `d=… s=…` and per SPF domain.
    let mut dkim: BTreeMap<(&str, String), u64> = BTreeMap::new();
    let mut spf: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut reporters: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut days: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for r in rows {
        let pass = if r.spf_aligned || r.dkim_aligned {
            r.count
        } else {
            0
        };
        let t = totals.entry(&r.ip).or_insert_with(|| SourceTotals {
            ip: r.ip.clone(),
            ..SourceTotals::default()
        });
        t.count += r.count;
        t.spf_aligned += if r.spf_aligned { r.count } else { 0 };
        t.dkim_aligned += if r.dkim_aligned { r.count } else { 0 };
        t.dmarc_pass += pass;
        if !r.dkim_domain.is_empty() {
            let key = if r.dkim_selector.is_empty() {
                format!("d={}", r.dkim_domain)
            } else {
                format!("d={} s={}", r.dkim_domain, r.dkim_selector)
            };
            *dkim.entry((&r.ip, key)).or_default() += r.count;
        }
        if !r.spf_domain.is_empty() {
            *spf.entry((&r.ip, &r.spf_domain)).or_default() += r.count;
        }
        let rep = reporters.entry(&r.reporter).or_default();
        rep.0 += r.count;
        rep.1 += pass;
        let day = days.entry(r.begin.div_euclid(86_400) * 86_400).or_default();
        day.0 += r.count;
        day.1 += pass;
    }
    let summary = summarise(domain, totals.into_values());
    let sources = summary
        .sources
        .iter()
        .map(|s| {
            let ip = s.ip.as_str();
            let dkim = most(
                dkim.range((ip, String::new())..)
                    .take_while(|((i, _), _)| *i == ip)
                    .map(|((_, k), n)| (k.clone(), *n)),
            );
            let spf_domain = most(
                spf.range((ip, "")..)
                    .take_while(|((i, _), _)| *i == ip)
                    .map(|((_, k), n)| (k.to_string(), *n)),
            );
            SourceDetail {
                ip: s.ip.clone(),
                count: s.count,
                spf_aligned: s.spf_aligned,
                dkim_aligned: s.dkim_aligned,
                dmarc_pass: s.dmarc_pass,
                alignment: s.alignment,
                dkim,
                spf_domain,
                blocking: summary.blocking_sources.contains(&s.ip),
            }
        })
        .collect();
    let mut reporters: Vec<ReporterLine> = reporters
        .into_iter()
        .map(|(reporter, (count, dmarc_pass))| ReporterLine {
            reporter: reporter.to_string(),
            count,
            dmarc_pass,
        })
        .collect();
    reporters.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.reporter.cmp(&b.reporter))
    });
    DomainView {
        summary,
        sources,
        reporters,
        trend: days
            .into_iter()
            .map(|(day, (count, dmarc_pass))| DayPoint {
                day,
                count,
                dmarc_pass,
            })
            .collect(),
    }
}

/// The key seen with the most messages (ties: the first in order), empty when none.
fn most(seen: impl Iterator<Item = (String, u64)>) -> String {
    seen.max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(k, _)| k)
        .unwrap_or_default()
}

/// The pass rate per day as an SVG line chart, 0–100 % on the vertical axis; `label`
/// names it for screen readers (the page also has the numbers as a table).
pub fn trend_svg(points: &[DayPoint], label: &str) -> String {
    const W: i64 = 600;
    const H: i64 = 160;
    const LEFT: i64 = 40;
    const BOTTOM: i64 = 20;
    let plot_w = W - LEFT - 10;
    let plot_h = H - BOTTOM - 10;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{}\" class=\"trend\">",
        esc(label)
    );
    for pct in [0, 50, 100] {
        let y = 10 + plot_h - plot_h * pct / 100;
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" class=\"grid\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{pct}%</text>",
            W - 10,
            LEFT - 4,
            y + 4
        ));
    }
    let n = points.len() as i64;
    let x = |i: i64| {
        if n <= 1 {
            LEFT + plot_w / 2
        } else {
            LEFT + plot_w * i / (n - 1)
        }
    };
    let y = |p: &DayPoint| {
        let pct = (p.dmarc_pass * 100).checked_div(p.count).unwrap_or(0) as i64;
        10 + plot_h - plot_h * pct / 100
    };
    if n > 1 {
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{},{}", x(i as i64), y(p)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" class=\"line\" fill=\"none\"/>",
            path.join(" ")
        ));
    }
    for (i, p) in points.iter().enumerate() {
        svg.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"3\" class=\"point\"/>",
            x(i as i64),
            y(p)
        ));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        svg.push_str(&format!(
            "<text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            H - 4,
            day_text(first.day),
            W - 10,
            H - 4,
            day_text(last.day)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// A day as YYYY-MM-DD (UTC); empty out of `time`'s range.
pub fn day_text(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day)
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(reporter: &str, day: i64, ip: &str, count: u64, spf: bool, dkim: bool) -> RowFacts {
        RowFacts {
            reporter: reporter.into(),
            begin: 1_795_651_200 + day * 86_400,
            ip: ip.into(),
            count,
            spf_aligned: spf,
            dkim_aligned: dkim,
            dkim_domain: if dkim {
                "praktijk.nl".into()
            } else {
                "esp.example".into()
            },
            dkim_selector: "s1".into(),
            spf_domain: "praktijk.nl".into(),
        }
    }

    #[test]
    fn the_view_adds_up_per_source_reporter_and_day() {
        let rows = [
            row("google.com", 0, "192.0.2.1", 60, true, true),
            row("Microsoft", 0, "192.0.2.1", 40, true, false),
            row("google.com", 1, "192.0.2.9", 30, false, false),
            row("google.com", 1, "192.0.2.1", 70, true, true),
        ];
        let v = domain_view("praktijk.nl", &rows);
        // The same summary as the command line's.
        assert_eq!(v.summary.messages, 200);
        assert_eq!(v.summary.blocking_sources, ["192.0.2.9"]);
        let a = &v.sources[0];
        assert_eq!(
            (a.ip.as_str(), a.count, a.dmarc_pass),
            ("192.0.2.1", 170, 170)
        );
        // What it signs as most: 130 messages with praktijk.nl against 40 with the ESP.
        assert_eq!(a.dkim, "d=praktijk.nl s=s1");
        assert_eq!(a.spf_domain, "praktijk.nl");
        assert!(!a.blocking && v.sources[1].blocking);
        assert_eq!(v.sources[1].pass_percent(), 0);
        assert_eq!(
            v.reporters
                .iter()
                .map(|r| (r.reporter.as_str(), r.count, r.pass_percent()))
                .collect::<Vec<_>>(),
            [("google.com", 160, 81), ("Microsoft", 40, 100)]
        );
        assert_eq!(
            v.trend
                .iter()
                .map(|d| (day_text(d.day), d.count, d.dmarc_pass))
                .collect::<Vec<_>>(),
            [
                ("2026-11-26".to_string(), 100, 100),
                ("2026-11-27".to_string(), 100, 70)
            ]
        );
    }

    #[test]
    fn the_chart_is_svg_with_a_point_per_day_and_escaped_label() {
        let v = domain_view(
            "praktijk.nl",
            &[
                row("g", 0, "192.0.2.1", 10, true, true),
                row("g", 1, "192.0.2.1", 10, false, false),
                row("g", 2, "192.0.2.1", 10, true, false),
            ],
        );
        let svg = trend_svg(&v.trend, "Pass <rate>");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("aria-label=\"Pass &lt;rate&gt;\""));
        assert!(svg.contains("2026-11-26") && svg.contains("2026-11-28"));
        // 100 % at the top (y 10), 0 % at the bottom (y 140).
        assert!(svg.contains("cx=\"40\" cy=\"10\""));
        assert!(svg.contains("cy=\"140\""));
        // One day or none: no line, no panic.
        assert!(!trend_svg(&v.trend[..1], "x").contains("polyline"));
        assert!(trend_svg(&[], "x").contains("</svg>"));
    }

    #[test]
    fn days_are_civil_dates() {
        for (t, want) in [
            (0, "1970-01-01"),
            (951_782_400, "2000-02-29"),
            (1_795_651_200, "2026-11-26"),
            (-86_400, "1969-12-31"),
            (i64::MAX, ""),
        ] {
            assert_eq!(day_text(t), want);
        }
    }
}
