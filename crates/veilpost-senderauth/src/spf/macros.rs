//! Macro expansion (RFC 7208 §7).

use std::net::IpAddr;

/// The values macros expand to.
#[derive(Debug, Clone)]
pub struct MacroContext<'a> {
    /// `s`: the sender (`local@domain`).
    pub sender: &'a str,
    /// `d`: the current domain.
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client address.
    pub ip: IpAddr,
    /// `h`: the HELO name.
    pub helo: &'a str,
    /// `p`: the validated domain name of the client (looked up by the caller).
    pub validated: Option<&'a str>,
    /// `r`: the receiving host's name.
    pub receiver: &'a str,
    /// `t`: now, in seconds since the epoch.
    pub now: u64,
}

/// Expansion failed: a macro not allowed here (permerror).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError(pub String);

/// Does the string use the `p` macro (which needs a DNS look-up first)?
pub fn uses_p(text: &str) -> bool {
    text.contains("%{p") || text.contains("%{P")
}

fn local_part(sender: &str) -> &str {
    match sender.rsplit_once('@') {
        Some((l, _)) if !l.is_empty() => l,
        _ => "postmaster",
    }
}

fn sender_domain(sender: &str) -> &str {
    sender.rsplit_once('@').map_or(sender, |(_, d)| d)
}

fn ip_macro(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut parts = Vec::with_capacity(32);
            for byte in v6.octets() {
                parts.push(format!("{:x}", byte >> 4));
                parts.push(format!("{:x}", byte & 0xF));
            }
            parts.join(".")
        }
    }
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Expand `text`. `explanation` allows the `c`, `r` and `t` macros (exp= text only).
pub fn expand(text: &str, ctx: &MacroContext<'_>, explanation: bool) -> Result<String, MacroError> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 32);
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let next = text[i..].find('%').map_or(text.len(), |p| i + p);
            out.push_str(&text[i..next]);
            i = next;
            continue;
        }
        match b.get(i + 1) {
            Some(b'%') => {
                out.push('%');
                i += 2;
            }
            Some(b'_') => {
                out.push(' ');
                i += 2;
            }
            Some(b'-') => {
                out.push_str("%20");
                i += 2;
            }
            Some(b'{') => {
                let end = text[i..]
                    .find('}')
                    .map(|p| i + p)
                    .ok_or_else(|| MacroError("unterminated macro".into()))?;
                out.push_str(&expand_one(&text[i + 2..end], ctx, explanation)?);
                i = end + 1;
            }
            _ => return Err(MacroError("stray '%'".into())),
        }
    }
    Ok(out)
}

fn expand_one(body: &str, ctx: &MacroContext<'_>, explanation: bool) -> Result<String, MacroError> {
    let mut chars = body.chars();
    let letter = chars
        .next()
        .ok_or_else(|| MacroError("empty macro".into()))?;
    let rest: String = chars.collect();
    let value = match letter.to_ascii_lowercase() {
        's' => ctx.sender.to_string(),
        'l' => local_part(ctx.sender).to_string(),
        'o' => sender_domain(ctx.sender).to_string(),
        'd' => ctx.domain.to_string(),
        'i' => ip_macro(ctx.ip),
        'p' => ctx.validated.unwrap_or("unknown").to_string(),
        'v' => match ctx.ip {
            IpAddr::V4(_) => "in-addr".to_string(),
            IpAddr::V6(_) => "ip6".to_string(),
        },
        'h' => ctx.helo.to_string(),
        'c' | 'r' | 't' if !explanation => {
            return Err(MacroError(format!(
                "%{{{letter}}} is only allowed in explanations"
            )));
        }
        'c' => ctx.ip.to_string(),
        'r' => ctx.receiver.to_string(),
        't' => ctx.now.to_string(),
        other => return Err(MacroError(format!("unknown macro letter {other:?}"))),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let mut rest = &rest[digits.len()..];
    let reverse = if rest.starts_with(['r', 'R']) {
        rest = &rest[1..];
        true
    } else {
        false
    };
    let delimiters: Vec<char> = if rest.is_empty() {
        vec!['.']
    } else {
        rest.chars().collect()
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(&c)).collect();
    if reverse {
        parts.reverse();
    }
    if !digits.is_empty() {
        let keep: usize = digits
            .parse()
            .map_err(|_| MacroError("bad digit transformer".into()))?;
        if keep == 0 {
            return Err(MacroError("digit transformer 0".into()));
        }
        if keep < parts.len() {
            parts.drain(..parts.len() - keep);
        }
    }
    let joined = parts.join(".");
    Ok(if letter.is_ascii_uppercase() {
        url_encode(&joined)
    } else {
        joined
    })
}

/// After expansion, a domain longer than 253 characters loses labels on the left.
pub fn truncate_domain(mut domain: String) -> String {
    while domain.trim_end_matches('.').len() > 253 {
        match domain.find('.') {
            Some(p) => {
                domain.drain(..=p);
            }
            None => break,
        }
    }
    domain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MacroContext<'static> {
        MacroContext {
            sender: "strong-bad@email.example.com",
            domain: "email.example.com",
            ip: "192.0.2.3".parse().expect("ip"),
            helo: "mx.example.org",
            validated: None,
            receiver: "mx.veilpost.test",
            now: 1_000,
        }
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc_examples() {
        let c = ctx();
        let cases = [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
            ("%%%_%-", "% %20"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &c, false).expect(input), want, "{input}");
        }
        let mut v6 = ctx();
        v6.ip = "2001:db8::cb01".parse().expect("ip");
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &v6, false).expect("v6"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
        assert_eq!(expand("%{L}", &c, false).expect("url"), "strong-bad");
        assert!(expand("%{c}", &c, false).is_err());
        assert_eq!(
            expand("%{c} %{t}", &c, true).expect("exp"),
            "192.0.2.3 1000"
        );
    }

    #[test]
    fn long_domains_lose_left_labels() {
        let long = format!("{}.example.com", "a".repeat(60) + &".b".repeat(120));
        let t = truncate_domain(long);
        assert!(t.len() <= 253 && t.ends_with(".example.com"));
    }
}
