//! The one OTLP/HTTP transport every network sink shares: encoding (protobuf or OTLP/JSON), optional gzip, one
//! POST, and the spec's reading of the answer (retry 429/502/503/504 and dropped connections, honour
//! `Retry-After`, never retry bad data). Sinks differ only in URL, headers and the attributes they add.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;

use super::body_pool::BodyPool;
use crate::export::{EncodedBatch, ExportError};
use crate::model::Trace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Protocol {
    #[default]
    #[serde(rename = "http/protobuf")]
    Protobuf,
    #[serde(rename = "http/json")]
    Json,
}

impl Protocol {
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` values; `grpc` is not supported and says so.
    pub fn parse(s: &str) -> Result<Protocol, String> {
        match s.trim() {
            "http/protobuf" => Ok(Protocol::Protobuf),
            "http/json" => Ok(Protocol::Json),
            other => Err(format!("unsupported OTLP protocol {other:?} (use http/protobuf or http/json)")),
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Protobuf => "application/x-protobuf",
            Protocol::Json => "application/json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Compression, String> {
        match s.trim() {
            "" | "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            other => Err(format!("unsupported compression {other:?} (use gzip or none)")),
        }
    }
}

impl Compression {
    /// The `Content-Encoding` value, if any.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
        }
    }
}

/// A batch's OTLP request as the backend receives it.
pub fn encode_batch(
    req: &ExportTraceServiceRequest,
    protocol: Protocol,
    compression: Compression,
    batch: &[Arc<Trace>],
) -> EncodedBatch {
    EncodedBatch::new(
        encode_body(req, protocol, compression),
        protocol.content_type(),
        compression.content_encoding(),
        batch,
    )
}

/// Encodes a request body; the same message serves both encodings.
pub fn encode_body(req: &ExportTraceServiceRequest, protocol: Protocol, compression: Compression) -> Vec<u8> {
    let raw = match protocol {
        Protocol::Protobuf => req.encode_to_vec(),
        Protocol::Json => super::otlp_proto::to_json(req),
    };
    compress(raw, compression)
}

/// A request body, compressed as configured.
pub fn compress(raw: Vec<u8>, compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => raw,
        Compression::Gzip => gzip(&raw),
    }
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::fast());
    enc.write_all(raw).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Everything needed to POST OTLP to one endpoint. Header values may hold secrets: they are marked sensitive and
/// never formatted into errors; `url_for_errors` has any userinfo removed.
pub struct HttpTransport {
    client: reqwest::Client,
    url: String,
    url_for_errors: String,
    headers: HeaderMap,
    protocol: Protocol,
    compression: Compression,
    sink: &'static str,
}

impl HttpTransport {
    pub fn new(
        sink: &'static str,
        url: &str,
        headers: &[(String, String)],
        protocol: Protocol,
        compression: Compression,
        timeout: Duration,
    ) -> Result<HttpTransport, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{sink}: invalid endpoint URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{sink}: endpoint must be http:// or https://"));
        }
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| format!("{sink}: invalid header name {k:?}"))?;
            // The value is not echoed: it may be a credential.
            let mut value =
                HeaderValue::from_str(v.trim()).map_err(|_| format!("{sink}: invalid value for header {name}"))?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("clawtrace/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("{sink}: cannot build HTTP client: {e}"))?;
        Ok(HttpTransport {
            client,
            url: url.to_string(),
            url_for_errors: redact_url(&parsed),
            headers: map,
            protocol,
            compression,
            sink,
        })
    }

    /// Encodes one request in this transport's protocol and compression.
    pub fn encode(&self, req: &ExportTraceServiceRequest, batch: &[Arc<Trace>]) -> EncodedBatch {
        encode_batch(req, self.protocol, self.compression, batch)
    }

    /// This transport's protocol: the one a body handed to `encode_written` must be written in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// A request already written in this transport's protocol (uncompressed), compressed as configured.
    /// `raw`, a buffer of `pool`, is sent as it is when uncompressed, and given back once compressed.
    pub fn encode_written(&self, raw: Vec<u8>, batch: &[Arc<Trace>], pool: &Arc<BodyPool>) -> EncodedBatch {
        let body = match self.compression {
            Compression::None => pool.body(raw),
            Compression::Gzip => {
                let zipped = gzip(&raw);
                pool.put(raw);
                zipped.into()
            }
        };
        EncodedBatch::new(body, self.protocol.content_type(), self.compression.content_encoding(), batch)
    }

    /// POSTs an encoded batch, labelled with its own content type and encoding (a batch encoded before a
    /// reconfiguration is still described right), and classifies the answer.
    pub async fn post(&self, batch: &EncodedBatch) -> Result<(), ExportError> {
        let mut headers = self.headers.clone();
        let label = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| ExportError::Rejected {
                message: format!("{}: unusable content type or encoding {v:?}", self.sink),
            })
        };
        headers.insert(CONTENT_TYPE, label(&batch.content_type)?);
        if let Some(enc) = &batch.content_encoding {
            headers.insert(CONTENT_ENCODING, label(enc)?);
        }
        let sent = self.client.post(&self.url).headers(headers).body(batch.body.clone()).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                // `without_url`: the URL may carry userinfo; ours is already redacted.
                let kind = failure_kind(&e);
                return Err(ExportError::Retryable {
                    message: format!(
                        "{}: POST {} {kind}: {}",
                        self.sink,
                        self.url_for_errors,
                        error_chain(&e.without_url())
                    ),
                    retry_after: None,
                });
            }
        };
        let status = resp.status();
        let retry_after = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let is_json =
            resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            return match partial_success(&bytes, is_json) {
                Some((rejected, msg)) => {
                    Err(ExportError::Partial { message: format!("{}: partial success: {msg}", self.sink), rejected })
                }
                None => Ok(()),
            };
        }
        let message =
            format!("{}: POST {} answered {}: {}", self.sink, self.url_for_errors, status.as_u16(), snippet(&bytes));
        Err(classify(status.as_u16(), message, retry_after))
    }
}

/// What a non-2xx status means for the batch (the OTLP/HTTP specification; `docs/ARCHITECTURE.md`, "Backends").
pub fn classify(status: u16, message: String, retry_after: Option<Duration>) -> ExportError {
    match status {
        408 | 429 | 502 | 503 | 504 => ExportError::Retryable { message, retry_after },
        // Bad data (or too much of it): the batch itself is at fault, so it is worth splitting.
        400 | 413 | 422 => ExportError::Rejected { message },
        // Credentials, permissions, a wrong URL, a server bug: no batch would fare better.
        _ => ExportError::Refused { message },
    }
}

/// `Retry-After` as delay-seconds or an HTTP date, capped so a hostile value cannot park a sink for a day.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let d = match v.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(v.trim()).ok()?.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO),
    };
    Some(d.min(Duration::from_secs(60)))
}

/// A 200 with `partialSuccess.rejectedSpans > 0` (or a message) is logged, never retried.
fn partial_success(body: &[u8], is_json: bool) -> Option<(u64, String)> {
    if body.is_empty() {
        return None;
    }
    let resp = if is_json {
        serde_json::from_slice::<ExportTraceServiceResponse>(body).ok()?
    } else {
        ExportTraceServiceResponse::decode(body).ok()?
    };
    let p = resp.partial_success?;
    let rejected = p.rejected_spans.max(0) as u64;
    (rejected > 0).then(|| (rejected, format!("{rejected} spans rejected: {}", p.error_message)))
}

/// The first 300 characters of an error body, printable only.
fn snippet(body: &[u8]) -> String {
    let out = text_snippet(&String::from_utf8_lossy(body));
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

/// The first 300 characters of a text, printable only (for error messages: bounded, one line).
pub fn text_snippet(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control() || *c == ' ').take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// An error with its sources, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The URL without userinfo or query (either may hold a credential).
pub fn redact_url(u: &reqwest::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

/// `Authorization: Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: comma-separated `key=value`, values percent-decoded (W3C baggage format).
pub fn parse_headers(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| "OTLP headers must be key=value pairs separated by commas".to_string())?;
        let k = k.trim();
        if k.is_empty() {
            return Err("OTLP headers: empty header name".into());
        }
        out.push((k.to_string(), percent_decode(v.trim())));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What went wrong with a request that got no answer, in words for an error message.
pub fn failure_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses_as_the_spec_says() {
        for s in [429, 502, 503, 504] {
            assert!(matches!(classify(s, String::new(), None), ExportError::Retryable { .. }), "{s}");
        }
        assert!(matches!(classify(400, String::new(), None), ExportError::Rejected { .. }));
        for s in [401, 403, 404, 500] {
            assert!(matches!(classify(s, String::new(), None), ExportError::Refused { .. }), "{s}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("86400"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn otel_headers_format() {
        let h = parse_headers("api-key=abc%3D%3D, x-tenant = t1 ,").unwrap();
        assert_eq!(h, vec![("api-key".into(), "abc==".into()), ("x-tenant".into(), "t1".into())]);
        assert!(parse_headers("novalue").is_err());
    }

    #[test]
    fn urls_in_errors_carry_no_credentials() {
        let u = reqwest::Url::parse("https://user:s3cret@host:8080/v1/traces?token=abc").unwrap();
        let r = redact_url(&u);
        assert!(!r.contains("s3cret") && !r.contains("user") && !r.contains("abc"), "{r}");
        assert_eq!(basic_auth("pk", "sk"), "Basic cGs6c2s=");
    }

    #[test]
    fn gzip_round_trips() {
        let req = ExportTraceServiceRequest::default();
        let body = encode_body(&req, Protocol::Json, Compression::Gzip);
        let mut d = flate2::read::GzDecoder::new(&body[..]);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut d, &mut s).unwrap();
        assert_eq!(s, "{}", "fields at their default are left out");
    }
}
