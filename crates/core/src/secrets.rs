//! Keeping credentials out of every message that leaves the process. A backend that echoes the request headers in
//! a 401 body, a proxy error that quotes a URL with its userinfo, a config value of the wrong type: whatever the
//! source, each message passes through one [`Scrubber`] before it reaches `onError`, a rejected promise or a log.
//! It knows the configured secret values (and the forms they travel in: `Basic` base64, percent-encoding) and
//! catches credential-shaped text it was never told about with the built-in redaction patterns.

use base64::Engine;
use serde_json::Value;

use crate::config::Env;
use crate::enrich::privacy::Redactor;
use crate::export::transport::http::parse_headers;

/// Values shorter than this are not treated as secrets: scrubbing `"a"` would shred every message.
const MIN_SECRET_CHARS: usize = 3;
/// Secrets remembered across reconfigurations (an earlier configuration's sink may still report).
const MAX_SECRETS: usize = 512;
const REPLACEMENT: &str = "[REDACTED]";

/// Config keys whose value is a credential, wherever they appear.
const SECRET_KEYS: &[&str] = &["secretKey", "password", "token", "apiKey", "secret"];

/// Environment variables holding credentials (or URLs that may carry userinfo) that sinks read.
const SECRET_VARS: &[&str] = &[
    "LANGFUSE_SECRET_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "MLFLOW_TRACKING_URI",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_HOST",
];
const HEADER_VARS: &[&str] = &["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"];
/// `(user variable, password variable)` pairs that become a `Basic` header.
const BASIC_PAIRS: &[(&str, &str)] =
    &[("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"), ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")];

#[derive(Debug, Clone)]
pub struct Scrubber {
    /// Longest first, so a secret containing another is replaced whole.
    values: Vec<String>,
    patterns: Redactor,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber { values: Vec::new(), patterns: Redactor::credentials() }
    }
}

impl Scrubber {
    /// Every secret value of the text, each replaced by `[REDACTED]`; credential-shaped text too.
    pub fn scrub(&self, text: &str) -> String {
        self.patterns.redact(&self.scrub_values(text))
    }

    /// Only the known secret values: for messages clawtrace composes itself without quoting any value (config
    /// errors), where the credential patterns would take `password: expected a string` for an assignment.
    pub fn scrub_values(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REPLACEMENT);
            }
        }
        out
    }

    /// Adds secret values (with the encodings they travel in). Secrets are never forgotten, up to a bound.
    pub fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        for s in secrets {
            for form in encodings(&s) {
                if form.chars().count() >= MIN_SECRET_CHARS && !self.values.contains(&form) {
                    self.values.push(form);
                }
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self.values.truncate(MAX_SECRETS);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A secret as it may appear in a message: as is, percent-encoded, and each word of a header value
/// (`Bearer abc` → `abc`; `Basic dTpw` → `dTpw`, `u:p` and `p`).
fn encodings(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string(), percent_encode(secret)];
    for word in secret.split_whitespace().skip(1) {
        out.push(word.to_string());
        if let Some(plain) = base64_text(word) {
            out.extend(userinfo_parts(&plain));
        }
    }
    out
}

/// `user:password` → the pair, its `Basic` base64 forms and the password.
fn userinfo_parts(pair: &str) -> Vec<String> {
    let mut out = vec![pair.to_string()];
    if let Some((_, password)) = pair.split_once(':') {
        out.push(password.to_string());
    }
    out.push(base64::engine::general_purpose::STANDARD.encode(pair));
    out.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(pair));
    out
}

fn base64_text(word: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(word).ok()?;
    String::from_utf8(bytes).ok().filter(|s| s.contains(':'))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secret values a `configure()` object carries, whatever their type and even when the object is invalid:
/// every header value, every credential key, `user:password` pairs as `Basic` sends them, userinfo in URLs.
pub fn from_config_json(config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(config, None, &mut out);
    out
}

fn walk(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if key == Some("headers") {
                out.extend(m.values().filter_map(scalar_text));
            }
            for (user_key, secret_key) in [("publicKey", "secretKey"), ("username", "password")] {
                if let (Some(u), Some(p)) =
                    (m.get(user_key).and_then(scalar_text), m.get(secret_key).and_then(scalar_text))
                {
                    out.extend(userinfo_parts(&format!("{u}:{p}")));
                }
            }
            for (k, child) in m {
                walk(child, Some(k), out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, key, out)),
        _ => {
            let Some(text) = scalar_text(v) else { return };
            if key == Some("headers") {
                // The `OTEL_EXPORTER_OTLP_HEADERS` form, given where a map is expected: every value is a secret.
                out.extend(parse_headers(&text).unwrap_or_default().into_iter().map(|(_, v)| v));
                out.push(text.clone());
            }
            if key.is_some_and(|k| SECRET_KEYS.contains(&k)) {
                out.push(text.clone());
            }
            out.extend(url_userinfo(&text));
        }
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `scheme://user:password@host…?key=value` → the userinfo's parts and encodings, and every query value (some
/// collectors take their API key there).
fn url_userinfo(text: &str) -> Vec<String> {
    let Some(rest) = text.split_once("://").map(|(_, r)| r) else { return Vec::new() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let mut out = match authority.rsplit_once('@') {
        Some((info, _)) if !info.is_empty() => {
            let mut out = userinfo_parts(info);
            if let Some((user, _)) = info.split_once(':') {
                // The user name alone is not a secret; the password alone is (already in `userinfo_parts`).
                out.retain(|s| s != user);
            }
            out
        }
        _ => Vec::new(),
    };
    if let Some((_, query)) = rest.split_once('?') {
        let query = query.split('#').next().unwrap_or("");
        out.extend(query.split('&').filter_map(|kv| kv.split_once('=')).map(|(_, v)| v.to_string()));
    }
    out
}

/// The secret values the sinks may read from the environment.
pub fn from_env(env: Env) -> Vec<String> {
    let mut out = Vec::new();
    for var in SECRET_VARS {
        if let Some(v) = env(var) {
            let info = url_userinfo(&v);
            if info.is_empty() && !var.ends_with("_URI") && !var.ends_with("_ENDPOINT") && !var.ends_with("_URL") {
                out.push(v);
            } else {
                out.extend(info);
            }
        }
    }
    for var in HEADER_VARS {
        if let Some(v) = env(var) {
            out.extend(parse_headers(&v).unwrap_or_default().into_iter().map(|(_, v)| v));
        }
    }
    for (user, password) in BASIC_PAIRS {
        if let (Some(u), Some(p)) = (env(user), env(password)) {
            out.extend(userinfo_parts(&format!("{}:{}", u.trim(), p.trim())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    fn scrubber(values: Vec<String>) -> Scrubber {
        let mut s = Scrubber::default();
        s.add(values);
        s
    }

    #[test]
    fn every_configured_secret_and_its_encodings_are_scrubbed() {
        let cfg = serde_json::json!({"exporters": {
            "otlp": {"endpoint": "https://bob:hunter2pw@collector.example/x?api=q-secret-77&plain", "headers": {"x-api-key": "Kx9-otlp-key", "authorization": "Bearer tok-abc123"}},
            "mlflow": {"username": "ml-user", "password": 987654321, "token": "ml-tok-777"},
            "langfuse": {"publicKey": "pk-lf-public", "secretKey": "sk-lf/secret+1"},
        }});
        let s = scrubber(from_config_json(&cfg));
        let basic = |p: &str| base64::engine::general_purpose::STANDARD.encode(p);
        for leak in [
            "Kx9-otlp-key".to_string(),
            "tok-abc123".into(),
            "Bearer tok-abc123".into(),
            "hunter2pw".into(),
            "q-secret-77".into(),
            "bob:hunter2pw".into(),
            "987654321".into(),
            "ml-tok-777".into(),
            "sk-lf/secret+1".into(),
            basic("pk-lf-public:sk-lf/secret+1"),
            basic("ml-user:987654321"),
            basic("bob:hunter2pw"),
            percent_encode("sk-lf/secret+1"),
        ] {
            let msg = format!("401 Unauthorized: {{\"echo\":\"{leak}\"}}");
            let out = s.scrub(&msg);
            assert!(!out.contains(&leak), "{leak} survived: {out}");
            assert!(out.contains("401 Unauthorized"), "the rest of the message stays: {out}");
        }
        assert_eq!(s.scrub("connection refused at collector.example"), "connection refused at collector.example");
    }

    #[test]
    fn a_headers_string_and_the_environment_are_secrets_too() {
        let s = scrubber(from_config_json(
            &serde_json::json!({"exporters": {"otlp": {"headers": "authorization=Bearer%20zz-tok-9,x-k=v-secret"}}}),
        ));
        assert!(!s.scrub("got zz-tok-9 and v-secret").contains("zz-tok-9"));
        assert!(!s.scrub("got v-secret").contains("v-secret"));
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=env-key-42"),
            ("LANGFUSE_PUBLIC_KEY", "pk-env"),
            ("LANGFUSE_SECRET_KEY", "sk-env-secret"),
            ("MLFLOW_TRACKING_URI", "http://u:envpass@m:5000"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ]);
        let s = scrubber(from_env(&env));
        let basic = base64::engine::general_purpose::STANDARD.encode("pk-env:sk-env-secret");
        let out = s.scrub(&format!("env-key-42 sk-env-secret {basic} envpass http://collector:4318"));
        assert_eq!(out, "[REDACTED] [REDACTED] [REDACTED] [REDACTED] http://collector:4318");
    }

    #[test]
    fn credential_shaped_text_is_caught_without_being_configured() {
        let out = Scrubber::default()
            .scrub("echo: Authorization: Bearer abcdefghijklmnop123 and sk-proj-abcdefghijklmnopqrstuv");
        assert!(!out.contains("abcdefghijklmnop123") && !out.contains("sk-proj-"), "{out}");
    }
}
