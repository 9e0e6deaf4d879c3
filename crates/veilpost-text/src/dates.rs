//! Dates and times as people in the Netherlands read them, and the one mail date format.
//!
//! Everything shown to people is in Dutch time (CET, CEST from the last Sunday of March
//! to that of October, changing at 01:00 UTC), whatever the server's zone.

use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

use crate::Lang;

/// Dutch month names, January first (also what the DLP reads as a date in words).
pub const MONTHS_NL: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// English month names, January first.
pub const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A Unix time in Dutch time; `None` when out of range.
pub fn dutch(unix: i64) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(t.to_offset(dutch_offset(t)))
}

/// `1-7-2026` or, with the time, `1-7-2026 14:00` (Dutch time, no leading zeros in the
/// date as the Taalunie writes it); empty when out of range. Dates people read without a
/// time are written out (`long_date`).
pub fn when(unix: i64, with_time: bool) -> String {
    let Some(t) = dutch(unix) else {
        return String::new();
    };
    let date = format!("{}-{}-{:04}", t.day(), u8::from(t.month()), t.year());
    if with_time {
        format!("{date} {:02}:{:02}", t.hour(), t.minute())
    } else {
        date
    }
}

/// `26 november 2026` / `26 November 2026` (Dutch time); empty when out of range.
pub fn long_date(unix: i64, lang: Lang) -> String {
    let Some(t) = dutch(unix) else {
        return String::new();
    };
    let m = usize::from(u8::from(t.month())) - 1;
    let month = lang.pick(MONTHS_NL[m], MONTHS_EN[m]);
    format!("{} {month} {}", t.day(), t.year())
}

/// An RFC 5322 date-time in UTC (`Wed, 02 Dec 2026 18:55:15 +0000`) for mail headers
/// and DSN fields; empty when out of range.
pub fn rfc5322(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default()
}

fn dutch_offset(t: OffsetDateTime) -> UtcOffset {
    let last_sunday = |month: Month| {
        let mut d = Date::from_calendar_date(t.year(), month, 31).unwrap_or(Date::MIN);
        while d.weekday() != Weekday::Sunday {
            d = d.previous_day().unwrap_or(d);
        }
        d.with_hms(1, 0, 0)
            .map(|dt| dt.assume_utc())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    let summer = t >= last_sunday(Month::March) && t < last_sunday(Month::October);
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_time_table() {
        for (unix, with_time, want) in [
            // 2026-07-01 12:00 UTC is 14:00 in summer; 2026-01-01 12:00 UTC is 13:00.
            (1_782_907_200, true, "1-7-2026 14:00"),
            (1_767_268_800, true, "1-1-2026 13:00"),
            (1_767_268_800, false, "1-1-2026"),
            // 2026-03-29 00:59 UTC is still winter (01:59); 01:00 UTC is summer (03:00).
            (1_774_745_940, true, "29-3-2026 01:59"),
            (1_774_746_000, true, "29-3-2026 03:00"),
            // 2026-10-25 00:59 UTC is summer (02:59); 01:00 UTC is winter again (02:00).
            (1_792_889_940, true, "25-10-2026 02:59"),
            (1_792_890_000, true, "25-10-2026 02:00"),
            // 2026-12-31 23:30 UTC is already the new year in Dutch time.
            (1_798_759_800, false, "1-1-2027"),
            (i64::MAX, true, ""),
        ] {
            assert_eq!(when(unix, with_time), want, "{unix}");
        }
    }

    #[test]
    fn long_dates_in_both_languages() {
        assert_eq!(long_date(1_796_083_200, Lang::Nl), "1 december 2026");
        assert_eq!(long_date(1_796_083_200, Lang::En), "1 December 2026");
        assert_eq!(long_date(1_798_759_800, Lang::Nl), "1 januari 2027");
        assert_eq!(long_date(i64::MIN, Lang::En), "");
    }

    #[test]
    fn mail_dates() {
        assert_eq!(rfc5322(1_796_083_200), "Tue, 01 Dec 2026 00:00:00 +0000");
        assert_eq!(rfc5322(i64::MAX), "");
    }
}
