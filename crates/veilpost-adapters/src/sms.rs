//! Text messages (login codes, ZIP passwords) through a provider: a local outbox file for
//! development, a generic HTTP webhook, or CM.com's JSON gateway. Requests have a timeout
//! and are retried on network errors, 429 and 5xx; a text is never written to the log
//! (it holds a code), and numbers are logged masked.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use veilpost_text::phone::{mask as mask_phone, normalize as normalize_phone};

/// Where texts go.
#[derive(Debug, Clone)]
pub enum Provider {
    /// Appended as JSON lines to this file (development: nothing leaves the machine).
    Outbox { path: PathBuf },
    /// POSTed as JSON `{"to", "text", "reference"}`, with an optional bearer token.
    Webhook { url: String, token: Option<String> },
    /// CM.com's messaging gateway (`https://gw.messaging.cm.com/v1.0/message`).
    CmCom {
        url: String,
        product_token: String,
        sender: String,
    },
}

/// Why a text did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("not a mobile number in international form: {0}")]
    BadNumber(String),
    #[error("the SMS provider refused the message (HTTP {0})")]
    Refused(u16),
    #[error("the SMS provider is unreachable: {0}")]
    Unreachable(String),
    #[error("writing the SMS outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

/// Sends texts through one provider.
#[derive(Debug, Clone)]
pub struct SmsSender {
    provider: Provider,
    client: reqwest::Client,
    attempts: u32,
    outbox_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SmsSender {
    /// A sender with a per-request `timeout` and at most `attempts` tries per text.
    pub fn new(provider: Provider, timeout: Duration, attempts: u32) -> SmsSender {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        SmsSender {
            provider,
            client,
            attempts: attempts.max(1),
            outbox_lock: Default::default(),
        }
    }

    /// The provider's name, for the page that lists the outbox.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Send `text` to `to` (normalised to E.164 first). A text that does not go out
    /// counts in `veilpost_sms_failures_total`.
    pub async fn send(&self, to: &str, text: &str, reference: &str) -> Result<(), SmsError> {
        let result = self.try_send(to, text, reference).await;
        if result.is_err() {
            metrics::counter!("veilpost_sms_failures_total").increment(1);
        }
        result
    }

    async fn try_send(&self, to: &str, text: &str, reference: &str) -> Result<(), SmsError> {
        let to = normalize_phone(to).ok_or_else(|| SmsError::BadNumber(mask_phone(to)))?;
        let (url, body, token) = match &self.provider {
            Provider::Outbox { path } => return self.to_outbox(path, &to, text, reference).await,
            Provider::Webhook { url, token } => (
                url,
                json!({ "to": to, "text": text, "reference": reference }),
                token.as_deref(),
            ),
            Provider::CmCom {
                url,
                product_token,
                sender,
            } => (
                url,
                json!({ "messages": {
                    "authentication": { "producttoken": product_token },
                    "msg": [{
                        "from": sender,
                        "to": [{ "number": format!("00{}", &to[1..]) }],
                        "body": { "type": "auto", "content": text },
                        "reference": reference,
                    }],
                }}),
                None,
            ),
        };
        let mut last = SmsError::Unreachable("no attempt made".into());
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt.min(4))).await;
            }
            let mut request = self.client.post(url).json(&body);
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!("SMS {reference} to {} sent", mask_phone(&to));
                    return Ok(());
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    last = SmsError::Refused(status);
                    tracing::warn!("SMS {reference} to {}: HTTP {status}", mask_phone(&to));
                    if status != 429 && status < 500 {
                        return Err(last);
                    }
                }
                Err(e) => {
                    // reqwest's errors name the URL, never the body.
                    let why = if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        e.without_url().to_string()
                    };
                    tracing::warn!("SMS {reference} to {}: {why}", mask_phone(&to));
                    last = SmsError::Unreachable(why);
                }
            }
        }
        Err(last)
    }

    async fn to_outbox(
        &self,
        path: &std::path::Path,
        to: &str,
        text: &str,
        reference: &str,
    ) -> Result<(), SmsError> {
        let line = json!({
            "at": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "to": to,
            "text": text,
            "reference": reference,
        })
        .to_string();
        let _guard = self.outbox_lock.lock().await;
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(format!("{line}\n").as_bytes())?;
            f.sync_data()
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        tracing::info!(
            "SMS {reference} to {} written to the outbox",
            mask_phone(to)
        );
        Ok(())
    }
}

/// One text in the outbox file.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OutboxSms {
    pub at: i64,
    pub to: String,
    pub text: String,
    #[serde(default)]
    pub reference: String,
}

/// The outbox's texts, newest first (at most `limit`; lines that do not parse are skipped).
pub fn read_outbox(path: &std::path::Path, limit: usize) -> Vec<OutboxSms> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut all: Vec<OutboxSms> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    all.reverse();
    all.truncate(limit);
    all
}
