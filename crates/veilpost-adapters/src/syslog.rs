//! Audit entries to a SIEM as syslog messages (RFC 5424), over UDP (RFC 5426: one
//! message per datagram) or TCP (RFC 6587 octet counting). The formatting is pure; the
//! sender only moves bytes.
//!
//! A message: `<86>1 2026-12-03T10:00:00Z gw.praktijk.nl veilpost 4711 send.delivered
//! [audit@32473 id="17" actor="veilpost" subject="a@b.nl" outcome="delivered"
//! hash="…"] message 01a… (submission): 250 ok` — facility authpriv (10), severity
//! informational (6); the structured data carries every field of the entry (32473 is the
//! enterprise number RFC 5612 sets aside for documentation; there is no registered one).

use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// Facility authpriv (10) × 8 + severity informational (6).
const PRI: u8 = 86;
/// The longest message sent: receivers must take 2,048 octets (RFC 5426 §3.2).
pub const MAX_MESSAGE: usize = 2048;

/// What one syslog message says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    /// Unix seconds.
    pub at: i64,
    /// The MSGID: the audit action (`send.delivered`), or `checkpoint`.
    pub msgid: &'a str,
    /// Structured-data parameters, in order.
    pub params: Vec<(&'a str, String)>,
    /// The free text.
    pub text: String,
}

/// An RFC 5424 header field: printable US-ASCII without spaces, at most `max`; `-` when
/// empty.
fn header_field(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

/// A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        // Line breaks would end the message for many receivers.
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// The message for `record`, from `host` (`app`, process `pid`), at most [`MAX_MESSAGE`]
/// octets (the free text is cut first, on a character boundary).
pub fn format(record: &Record<'_>, host: &str, app: &str, pid: u32) -> String {
    let time = time::OffsetDateTime::from_unix_timestamp(record.at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into());
    let params: String = record
        .params
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| format!(" {}=\"{}\"", header_field(name, 32), param_value(value)))
        .collect();
    let head = format!(
        "<{PRI}>1 {time} {} {} {pid} {} [audit@32473{params}]",
        header_field(host, 255),
        header_field(app, 48),
        header_field(record.msgid, 32),
    );
    let text: String = record
        .text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        return cut(head, MAX_MESSAGE);
    }
    cut(format!("{head} {text}"), MAX_MESSAGE)
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A syslog target that cannot be read, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadTarget(String);

/// Where messages go: `udp://HOST:PORT` or `tcp://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Udp(String),
    Tcp(String),
}

impl Target {
    /// Read `udp://host:port` or `tcp://host:port`.
    pub fn parse(url: &str) -> Result<Target, BadTarget> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            BadTarget(format!("{url:?}: write udp://HOST:PORT or tcp://HOST:PORT"))
        })?;
        let port_ok = rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !port_ok {
            return Err(BadTarget(format!("{url:?}: a host and a port are needed")));
        }
        match scheme {
            "udp" => Ok(Target::Udp(rest.to_string())),
            "tcp" => Ok(Target::Tcp(rest.to_string())),
            other => Err(BadTarget(format!("{other}: only udp and tcp"))),
        }
    }
}

/// A syslog sender; the TCP connection is kept and made again after an error.
#[derive(Debug)]
pub struct Sender {
    target: Target,
    udp: Option<tokio::net::UdpSocket>,
    tcp: Option<tokio::net::TcpStream>,
}

impl Sender {
    pub fn new(target: Target) -> Sender {
        Sender {
            target,
            udp: None,
            tcp: None,
        }
    }

    /// Send `messages` in order; an error leaves the rest unsent (the caller tries them
    /// again later).
    pub async fn send(&mut self, messages: &[String]) -> std::io::Result<()> {
        let timeout = Duration::from_secs(5);
        let timed =
            |e: tokio::time::error::Elapsed| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
        match &self.target {
            Target::Udp(addr) => {
                if self.udp.is_none() {
                    let socket = tokio::net::UdpSocket::bind(if addr.starts_with('[') {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    })
                    .await?;
                    socket.connect(addr).await?;
                    self.udp = Some(socket);
                }
                if let Some(socket) = &self.udp {
                    for m in messages {
                        socket.send(m.as_bytes()).await?;
                    }
                }
                Ok(())
            }
            Target::Tcp(addr) => {
                if self.tcp.is_none() {
                    let stream =
                        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
                            .await
                            .map_err(timed)??;
                    self.tcp = Some(stream);
                }
                let mut framed = Vec::new();
                for m in messages {
                    framed.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
                }
                let result = match self.tcp.as_mut() {
                    Some(stream) => tokio::time::timeout(timeout, stream.write_all(&framed))
                        .await
                        .map_err(timed)
                        .and_then(|r| r),
                    None => Ok(()),
                };
                if result.is_err() {
                    self.tcp = None;
                }
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_rfc_5424() {
        let r = Record {
            at: 1_796_292_000,
            msgid: "send.delivered",
            params: vec![
                ("id", "17".into()),
                ("actor", "veilpost".into()),
                ("subject", "a\"b]c\\d@x.nl".into()),
                ("empty", String::new()),
            ],
            text: "message 01a (submission):\r\n250 ok".into(),
        };
        let m = format(&r, "gw.praktijk.nl", "veilpost", 4711);
        assert_eq!(
            m,
            "<86>1 2026-12-03T10:00:00Z gw.praktijk.nl veilpost 4711 send.delivered \
             [audit@32473 id=\"17\" actor=\"veilpost\" subject=\"a\\\"b\\]c\\\\d@x.nl\" empty=\"\"] \
             message 01a (submission):  250 ok"
        );
        // Header fields never carry spaces; empty ones are "-".
        let odd = Record {
            at: 0,
            msgid: "",
            params: vec![],
            text: String::new(),
        };
        assert_eq!(
            format(&odd, "host with spaces", "", 1),
            "<86>1 1970-01-01T00:00:00Z hostwithspaces - 1 - [audit@32473]"
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_character() {
        let r = Record {
            at: 0,
            msgid: "x",
            params: vec![],
            text: "é".repeat(3000),
        };
        let m = format(&r, "h", "a", 1);
        assert!(m.len() <= MAX_MESSAGE && m.len() > MAX_MESSAGE - 2);
        assert!(m.ends_with('é'));
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("udp://127.0.0.1:514"),
            Ok(Target::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            Target::parse("tcp://siem.local:6514"),
            Ok(Target::Tcp("siem.local:6514".into()))
        );
        for bad in [
            "127.0.0.1:514",
            "udp://127.0.0.1",
            "tls://h:6514",
            "udp://:514",
            "udp://h:99999",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn tcp_frames_are_octet_counted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.expect("read");
            String::from_utf8(got).expect("utf-8")
        });
        let mut sender = Sender::new(Target::Tcp(addr.to_string()));
        sender
            .send(&["<86>1 a".to_string(), "<86>1 bé".to_string()])
            .await
            .expect("send");
        drop(sender);
        assert_eq!(reader.await.expect("join"), "7 <86>1 a9 <86>1 bé");
    }
}
