//! Privacy before anything leaves the process: captured content is redacted (built-in patterns for credentials,
//! emails, phone and card numbers, plus the user's own regular expressions), and session keys — which embed
//! channel and user ids — can be replaced by a stable hash that still groups a conversation.

use std::sync::Mutex;

use regex::{Regex, RegexSet};
use sha2::{Digest, Sha256};

use crate::config::RedactConfig;
use crate::model::{AttrValue, Status, Trace};

/// Built-in patterns, most specific first (a JWT is also a bearer token's payload; redact it as one piece). The
/// last three are personal data rather than credentials: error messages keep them (see `secrets.rs`).
const BUILTINS: &[(&str, &str)] = &[
    ("pem_private_key", r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    ("bearer", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    ("basic_auth", r"(?i)\bbasic\s+[A-Za-z0-9+/]{8,}=*"),
    ("url_userinfo", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:[^\s/?#@]+@"),
    // OpenAI (`sk-proj-…`, `sk-…`), Anthropic (`sk-ant-…`), Langfuse (`sk-lf-…`, `pk-lf-…`) and the like.
    ("api_key", r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"),
    ("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    ("aws_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    // A secret access key is 40 base64 characters, recognisable only by what names it.
    ("aws_secret_key", r#"(?i)\b(?:aws|secret)[A-Za-z0-9_\-. ]{0,30}["']?\s*[:=]?\s*["']?[A-Za-z0-9/+]{40}"#),
    ("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
    ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi_token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}"),
    ("slack_token", r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
    ("google_key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    ("telegram_bot_token", r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}"),
    ("digitalocean_token", r"\bdo[por]_v1_[a-f0-9]{64}\b"),
    ("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    ("twilio_key", r"\bSK[0-9a-fA-F]{32}\b"),
    ("mailgun_key", r"\bkey-[0-9a-f]{32}\b"),
    ("databricks_token", r"\bdapi[0-9a-f]{32}\b"),
    ("azure_account_key", r"(?i)\bAccountKey=[A-Za-z0-9+/]{40,}={0,2}"),
    (
        "secret_assignment",
        // Quotes may come JSON-escaped (`\"`): a tool result is JSON text inside a string.
        r#"(?i)\b(?:api[_-]?key|secret|password|passwd|access[_-]?token|auth[_-]?token)\b\\*["']?\s*[:=]\s*\\*["']?[^\s"'\\,;]{4,}"#,
    ),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    ("card_number", r"\b(?:\d[ -]?){12,18}\d\b"),
    ("phone", r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\b\d{2,4})[\s.-]\d{3,4}[\s.-]\d{3,5}\b|\+\d{8,15}\b"),
];
const PERSONAL_DATA: [&str; 3] = ["email", "card_number", "phone"];
/// No built-in pattern matches fewer characters: shorter free text is not scanned.
const MIN_SCANNED_CHARS: usize = 6;

#[derive(Debug, Clone)]
pub struct Redactor {
    /// All patterns at once: most text matches none, and one pass over it says so.
    any: RegexSet,
    patterns: Vec<(String, Regex)>,
    replacement: String,
    /// Text shorter than this cannot match (`MIN_SCANNED_CHARS` for the built-ins; 0 with user patterns).
    min_scanned: usize,
}

impl Redactor {
    /// Compiles the configured rules; a bad user pattern fails `configure()` with its index and the regex error.
    pub fn new(cfg: &RedactConfig) -> Result<Redactor, String> {
        let mut patterns = Vec::new();
        if cfg.builtins {
            for (name, re) in BUILTINS {
                patterns.push((name.to_string(), re.to_string()));
            }
        }
        for (i, p) in cfg.patterns.iter().enumerate() {
            Regex::new(p).map_err(|e| format!("redact.patterns[{i}] is not a valid regular expression: {e}"))?;
            patterns.push((format!("pattern_{i}"), p.clone()));
        }
        let mut r = Self::compile(patterns, &cfg.replacement)?;
        if !cfg.patterns.is_empty() {
            r.min_scanned = 0;
        }
        Ok(r)
    }

    /// The built-in credential patterns only (no personal data): what error messages are scrubbed with.
    pub fn credentials() -> Redactor {
        let patterns = BUILTINS
            .iter()
            .filter(|(name, _)| !PERSONAL_DATA.contains(name))
            .map(|(n, re)| (n.to_string(), re.to_string()))
            .collect();
        Self::compile(patterns, "[REDACTED]").expect("built-in patterns compile")
    }

    /// Compiled once per process for each list of patterns (a few): every `configure()` and every sink's scrubber
    /// builds a redactor, and compiling the built-ins costs milliseconds each time. A compiled regex is shared by
    /// its clones.
    fn compile(patterns: Vec<(String, String)>, replacement: &str) -> Result<Redactor, String> {
        type Compiled = (Vec<(String, String)>, RegexSet, Vec<(String, Regex)>);
        static CACHE: Mutex<Vec<Compiled>> = Mutex::new(Vec::new());
        const CACHED: usize = 8;
        let made = |any: &RegexSet, compiled: &[(String, Regex)]| Redactor {
            any: any.clone(),
            patterns: compiled.to_vec(),
            replacement: replacement.to_string(),
            min_scanned: MIN_SCANNED_CHARS,
        };
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, any, compiled)) = cache.iter().find(|(p, _, _)| *p == patterns) {
            return Ok(made(any, compiled));
        }
        let any =
            RegexSet::new(patterns.iter().map(|(_, re)| re.as_str())).map_err(|e| format!("redact.patterns: {e}"))?;
        let compiled: Vec<(String, Regex)> = patterns
            .iter()
            .map(|(name, re)| Regex::new(re).map(|r| (name.clone(), r)).map_err(|e| format!("redact.patterns: {e}")))
            .collect::<Result<_, _>>()?;
        let r = made(&any, &compiled);
        if cache.len() == CACHED {
            cache.remove(0);
        }
        cache.push((patterns, any, compiled));
        Ok(r)
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Every match of every rule replaced; card-like digit runs only when they pass the Luhn check.
    pub fn redact(&self, text: &str) -> String {
        let matched = self.any.matches(text);
        if !matched.matched_any() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for i in matched.iter() {
            let (name, re) = &self.patterns[i];
            out = if name == "card_number" {
                re.replace_all(
                    &out,
                    |c: &regex::Captures| if luhn(&c[0]) { self.replacement.clone() } else { c[0].to_string() },
                )
                .into_owned()
            } else {
                re.replace_all(&out, regex::NoExpand(&self.replacement)).into_owned()
            };
        }
        out
    }

    /// Redacts in place, allocating only when something matched. Text too short for any rule to match is not
    /// scanned: most attributes are short names and outcomes.
    pub fn redact_in_place(&self, text: &mut String) {
        if text.len() >= self.min_scanned && self.any.is_match(text) {
            *text = self.redact(text);
        }
    }
}

/// Attributes that are identifiers, not free text: redacting them would break grouping and correlation
/// (session keys and user ids embed phone-number-like channel ids; `hashSessionKeys` is the option for those).
fn is_identifier(key: &str) -> bool {
    key.ends_with("_id")
        || key.ends_with(".id")
        || key.ends_with("_key")
        || key.ends_with(".name")
        || key.ends_with(".model")
        || matches!(key, "openclaw.channel" | "gen_ai.system" | "openclaw.lane")
}

/// Redacts every free-text field of every span — status messages, event names and attributes, and string
/// attributes that are not identifiers — whatever `captureContent` says: an error message quoting an API key is
/// exported with content capture off too.
pub fn redact_free_text(trace: &mut Trace, r: &Redactor) {
    for s in trace.spans.iter_mut() {
        if let Status::Error(msg) = &mut s.status {
            r.redact_in_place(msg);
        }
        for (k, v) in s.attrs.iter_mut() {
            if let AttrValue::Str(text) = v {
                if !is_identifier(k) {
                    r.redact_in_place(text);
                }
            }
        }
        for e in s.events.iter_mut() {
            r.redact_in_place(&mut e.name);
            for v in e.attrs.values_mut() {
                if let AttrValue::Str(text) = v {
                    r.redact_in_place(text);
                }
            }
        }
    }
}

fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 13 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A stable, non-reversible stand-in for an identifier: `h:` + 16 hex digits of SHA-256.
pub fn hash_id(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    format!("h:{}", crate::model::hex(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins() -> Redactor {
        Redactor::new(&RedactConfig::default()).unwrap()
    }

    #[test]
    fn builtin_patterns_catch_credentials_and_contact_data() {
        let r = builtins();
        let cases = [
            "key sk-proj-abcdefghijklmnop1234 here",
            "Authorization: Bearer abcdef1234567890xyz",
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "AWS AKIAIOSFODNN7EXAMPLE",
            "write to alice.smith+test@example.co.uk please",
            "call +44 20 7946 0958 or (555) 123-4567",
            "card 4111 1111 1111 1111 ok",
            "password=hunter2!",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ];
        for c in cases {
            let out = r.redact(c);
            assert!(out.contains("[REDACTED]"), "{c:?} → {out:?}");
        }
        assert!(!r.redact("alice.smith+test@example.co.uk").contains('@'));
        assert!(!r.redact("4111 1111 1111 1111").contains("4111"));
    }

    /// Text that must be gone after redaction: the secret, and each random part long enough to identify it.
    fn survivors(out: &str, s: &crate::testing::GeneratedSecret) -> Vec<String> {
        let mut left: Vec<String> =
            s.random_parts.iter().filter(|p| p.len() >= 6 && out.contains(p.as_str())).cloned().collect();
        if out.contains(&s.text) {
            left.push(s.text.clone());
        }
        left
    }

    #[test]
    fn every_generated_secret_kind_is_caught_in_any_surrounding() {
        let r = builtins();
        let mut kinds = std::collections::BTreeSet::new();
        for seed in [7, 42, 1 << 40, 0xdead_beef] {
            for s in crate::testing::secret_corpus(seed) {
                for context in [
                    s.text.clone(),
                    format!("Incorrect API key provided: {} (see docs)", s.text),
                    format!("{{\"config\":{},\"n\":1}}", serde_json::to_string(&s.text).unwrap()),
                    // JSON text inside JSON text (a tool result), escaped twice.
                    serde_json::to_string(&serde_json::to_string(&s.text).unwrap()).unwrap(),
                    format!("line one\n{}\nline three", s.text),
                ] {
                    let out = r.redact(&context);
                    assert!(survivors(&out, &s).is_empty(), "{} survived in {context:?} → {out:?}", s.kind);
                }
                kinds.insert(s.kind);
            }
        }
        assert!(kinds.len() >= 28, "the corpus covers {} kinds", kinds.len());
    }

    #[test]
    fn free_text_fields_are_redacted_identifiers_kept() {
        use crate::model::{SpanEvent, SpanRole};
        let key = crate::testing::secret_corpus(3).into_iter().find(|s| s.kind == "openai_project_key").unwrap();
        let mut span = crate::testing::span(1, 1, None, SpanRole::ModelCall);
        span.status =
            Status::Error(format!("401: Incorrect API key provided: {} for alice.smith@example.com", key.text));
        span.attrs.insert("openclaw.error".into(), format!("tool said {}", key.text).into());
        span.attrs.insert("openclaw.session_key".into(), "agent:main:whatsapp:direct:+4915112345678".into());
        span.events.push(SpanEvent {
            name: "exception".into(),
            time_ns: 1,
            attrs: [("exception.message".into(), AttrValue::Str(format!("bad key {}", key.text)))].into(),
        });
        let mut t = Trace { trace_id: [1; 16], spans: vec![span], straggler: false, incomplete: false };
        redact_free_text(&mut t, &builtins());
        let s = &t.spans[0];
        let all = format!("{:?}", s);
        assert!(!all.contains(&key.random_parts[0]) && !all.contains("alice.smith"), "{all}");
        assert!(matches!(&s.status, Status::Error(m) if m.starts_with("401: Incorrect API key provided: [REDACTED]")));
        assert_eq!(s.attr_str("openclaw.session_key"), Some("agent:main:whatsapp:direct:+4915112345678"));
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let r = builtins();
        for c in [
            "Hello from the fake LLM.",
            "used 1234 tokens in 2026-11-27",
            "order 1234567890123 (not Luhn)",
            "version 3.17.2",
        ] {
            assert_eq!(r.redact(c), c);
        }
    }

    #[test]
    fn user_patterns_and_replacement() {
        let cfg = RedactConfig { builtins: false, patterns: vec![r"ACME-\d+".into()], replacement: "<x>".into() };
        let r = Redactor::new(&cfg).unwrap();
        assert_eq!(r.redact("ticket ACME-42 and a@b.io"), "ticket <x> and a@b.io");
        let bad = RedactConfig { patterns: vec!["(".into()], ..RedactConfig::default() };
        assert!(Redactor::new(&bad).unwrap_err().contains("redact.patterns[0]"));
        // A replacement with `$` is taken literally.
        let cfg = RedactConfig { builtins: false, patterns: vec!["x".into()], replacement: "$0$1".into() };
        assert_eq!(Redactor::new(&cfg).unwrap().redact("axb"), "a$0$1b");
    }

    #[test]
    fn hashed_ids_are_stable_and_opaque() {
        let a = hash_id("agent:main:telegram:direct:42");
        assert_eq!(a, hash_id("agent:main:telegram:direct:42"));
        assert_ne!(a, hash_id("agent:main:telegram:direct:43"));
        assert!(a.starts_with("h:") && a.len() == 18 && !a.contains("42"));
    }
}
