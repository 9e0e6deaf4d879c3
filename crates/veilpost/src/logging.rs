//! The process's log: lines for people (`log.format = "text"`), or one JSON object per
//! line (`json`) for a SIEM or a log shipper — then everything `serve` writes is JSON: the
//! start-up banner, panics and the error that ends it too.
//!
//! In JSON every line is flat: `timestamp`, `level`, `target`, `message`, then the fields
//! of the spans it happened in (outer first: `remote` of the SMTP connection, `queue_id`
//! and `message_id` of the message) and the event's own. What goes in a field is what the
//! code logs: addresses, ids, verdicts and routes, never a subject, body, finding excerpt,
//! code, token or password (tested end to end in `tests/gateway/logs.rs`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Set once JSON logging is on: what would be printed goes through the log instead.
static JSON: AtomicBool = AtomicBool::new(false);

/// Start logging to stderr in `format` (`text` or `json`), filtered by `VEILPOST_LOG`
/// (default `info`).
pub fn init(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VEILPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if format == "json" {
        JSON.store(true, Ordering::Relaxed);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init();
        // A panic's message as a log line, not as free text on stderr.
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(panic.location = %location, "panic: {}", panic_text(info));
        }));
    } else {
        // Colours for a person at a terminal; none in a file or the journal.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init();
    }
}

fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// True when lines go out as JSON.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// A line for the operator (the banner): printed on stdout, or an info line in JSON.
pub fn say(line: &str) {
    if json() {
        tracing::info!(target: "veilpost::banner", "{line}");
    } else {
        println!("{line}");
    }
}

/// One JSON object per event, the fields of its spans and its own at the top level.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// An event's fields into the line's object.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn span_fields_come_to_the_top_of_every_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let smtp = tracing::info_span!("smtp", remote = "192.0.2.7:4711");
            let _in_smtp = smtp.enter();
            let message = tracing::info_span!(
                "message",
                queue_id = "q1",
                message_id = tracing::field::Empty
            );
            let _in_message = message.enter();
            message.record("message_id", "<a@b>");
            tracing::info!(route = "portal", n = 3u64, "processed \"quoted\"\nnext");
            tracing::warn!("second");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            assert_eq!(line["remote"], "192.0.2.7:4711", "{line}");
            assert_eq!(line["queue_id"], "q1", "{line}");
            assert_eq!(line["message_id"], "<a@b>", "{line}");
            assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
        assert_eq!(lines[0]["message"], "processed \"quoted\"\nnext");
        assert_eq!(lines[0]["route"], "portal");
        assert_eq!(lines[0]["n"], 3);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[1]["level"], "WARN");
    }
}
