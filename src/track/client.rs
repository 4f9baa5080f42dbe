//! Sending one request to W&B and classifying the outcome: acknowledged,
//! worth retrying (network errors, 429, 5xx, a `Retry-After` the server
//! asks for, or a 2xx whose body is not the JSON expected, as a proxy or a
//! captive portal answers), or refused for good (400, 401, 403, 404, 409
//! and other client errors). Messages never hold the API key: it travels
//! only in the Authorization header.

use std::time::Duration;

use serde_json::Value;

use super::settings::WandbSettings;

#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Try again later (not before `after` when the server said so).
    Retry { message: String, after: Option<Duration> },
    /// The server refused; retrying cannot help.
    Refused { status: u16, message: String },
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError::Retry { message: message.into(), after: None }
    }
}

/// Most seconds of a `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The delay a `Retry-After` header asks for (seconds; an HTTP date is
/// not followed: the backoff applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { message, .. } => write!(f, "{message}"),
            SendError::Refused { status, message } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

pub struct Client {
    http: reqwest::blocking::Client,
    settings: WandbSettings,
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The first 200 characters of a response body, without the key.
fn excerpt(text: &str, key: Option<&str>) -> String {
    let mut t: String = text.chars().take(200).collect();
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        t = t.replace(k, "<redacted>");
    }
    t
}

impl Client {
    pub fn new(settings: WandbSettings) -> Result<Client, String> {
        install_crypto();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client { http, settings })
    }

    pub fn settings(&self) -> &WandbSettings {
        &self.settings
    }

    fn key(&self) -> Option<&str> {
        self.settings.api_key.as_ref().map(|k| k.secret())
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value, SendError> {
        let mut req = self.http.post(url).json(body);
        if let Some(k) = self.key() {
            req = req.basic_auth("api", Some(k));
        }
        let resp = req.send().map_err(|e| SendError::retry(format!("{}: {}", url, e.without_url())))?;
        let status = resp.status().as_u16();
        let after = retry_after(resp.headers());
        let text = resp.text().unwrap_or_default();
        match status {
            200..=299 => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.is_object() => Ok(v),
                _ => Err(SendError::Retry {
                    message: format!(
                        "{url}: HTTP {status} with a body that is not a JSON object ({:?}); a proxy in the way?",
                        excerpt(&text, self.key())
                    ),
                    after,
                }),
            },
            429 | 500..=599 => Err(SendError::Retry { message: format!("{url}: HTTP {status}"), after }),
            _ => Err(SendError::Refused { status, message: format!("{url}: {}", excerpt(&text, self.key())) }),
        }
    }

    /// A GraphQL call; errors in the response body count as refusals.
    pub fn graphql(&self, query: &str, variables: Value) -> Result<Value, SendError> {
        let url = format!("{}/graphql", self.settings.base_url);
        let v = self.post(&url, &super::protocol::graphql(query, variables))?;
        if let Some(errors) = v.get("errors").filter(|e| !e.is_null()) {
            return Err(SendError::Refused { status: 200, message: format!("{url}: {}", excerpt(&errors.to_string(), self.key())) });
        }
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }

    pub fn file_stream(&self, url: &str, body: &Value) -> Result<(), SendError> {
        self.post(url, body).map(|_| ())
    }

    /// PUTs `bytes` to an upload URL with its headers (`Name:Value` strings).
    pub fn upload(&self, url: &str, headers: &[String], bytes: Vec<u8>) -> Result<(), SendError> {
        let mut req = self.http.put(url).body(bytes);
        for h in headers {
            if let Some((k, v)) = h.split_once(':') {
                req = req.header(k.trim(), v.trim());
            }
        }
        let resp = req.send().map_err(|e| SendError::retry(format!("upload: {}", e.without_url())))?;
        let after = retry_after(resp.headers());
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            s @ (429 | 500..=599) => Err(SendError::Retry { message: format!("upload: HTTP {s}"), after }),
            s => Err(SendError::Refused { status: s, message: "upload refused".into() }),
        }
    }
}
