//! The exporter against a scripted HTTP server: experiment resolution (by id, get-or-create by name, the create
//! race), what each failure means for the runner, headers, and no secret in any error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use prost::Message;

use super::*;
use crate::model::SpanRole;
use crate::settings::{Env, Secret};
use crate::testing::export;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }
}

type Script = dyn Fn(&Req, &[Req]) -> (u16, String) + Send + Sync;

/// A one-request-per-connection HTTP/1.1 server answering from `script(request, earlier requests)`.
struct Mock {
    url: String,
    seen: Arc<Mutex<Vec<Req>>>,
}

impl Mock {
    fn start(script: impl Fn(&Req, &[Req]) -> (u16, String) + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let req = Req { method, target, headers, body };
                let (status, answer) = {
                    let earlier = log.lock().unwrap();
                    script(&req, &earlier)
                };
                log.lock().unwrap().push(req);
                let ctype = if answer.starts_with('{') { "application/json" } else { "application/x-protobuf" };
                let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}", answer.len());
            }
        });
        Mock { url, seen }
    }
    fn requests(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }
}

fn env_none() -> impl Fn(&str) -> Option<String> {
    |_| None
}

fn settings(url: &str, cfg: MlflowConfig) -> MlflowSettings {
    let env = env_none();
    let env: Env = &env;
    MlflowConfig { tracking_uri: Some(url.into()), ..cfg }.resolve(env).unwrap()
}

fn trace() -> Arc<Trace> {
    let sp = |id, parent, role| crate::testing::span(3, id, parent, role);
    Arc::new(Trace {
        trace_id: [3; 16],
        spans: vec![sp(1, None, SpanRole::Turn), sp(2, Some(1), SpanRole::ModelCall)],
        straggler: false,
        incomplete: false,
    })
}

const EXPERIMENT_7: &str = r#"{"experiment":{"experiment_id":"7","name":"agents","lifecycle_stage":"active"}}"#;
const MISSING: &str = r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment"}"#;

#[tokio::test]
async fn name_is_created_when_missing_then_resolved_once() {
    let mock = Mock::start(|req, _| match req.path() {
        "/api/2.0/mlflow/experiments/get-by-name" => (404, MISSING.into()),
        "/api/2.0/mlflow/experiments/create" => (200, r#"{"experiment_id":"42"}"#.into()),
        "/v1/traces" => (200, String::new()),
        _ => (500, "{}".into()),
    });
    let cfg = MlflowConfig {
        experiment_name: Some("clawtrace agents/1".into()),
        username: Some("admin".into()),
        password: Some(Secret("pw-secret".into())),
        ..Default::default()
    };
    let mut exp = MlflowExporter::new(&settings(&mock.url, cfg), "openclaw").unwrap();
    assert_eq!(exp.name(), "mlflow");
    assert_eq!(exp.experiment_id(), None, "nothing is asked before the first export");
    export(&mut exp, &[trace()]).await.unwrap();
    export(&mut exp, &[trace()]).await.unwrap();
    assert_eq!(exp.experiment_id(), Some("42"));
    let reqs = mock.requests();
    let paths: Vec<_> = reqs.iter().map(|r| (r.method.as_str(), r.path())).collect();
    assert_eq!(
        paths,
        [
            ("GET", "/api/2.0/mlflow/experiments/get-by-name"),
            ("POST", "/api/2.0/mlflow/experiments/create"),
            ("POST", "/v1/traces"),
            ("POST", "/v1/traces")
        ]
    );
    assert_eq!(reqs[0].target, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=clawtrace+agents%2F1");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&reqs[1].body).unwrap(),
        serde_json::json!({"name": "clawtrace agents/1"})
    );
    let basic = crate::export::transport::http::basic_auth("admin", "pw-secret");
    for r in &reqs {
        assert!(r.header("authorization") == Some(basic.as_str()), "credentials missing or wrong on {}", r.target);
    }
    let ingest = &reqs[2];
    assert_eq!(ingest.header("x-mlflow-experiment-id"), Some("42"));
    assert_eq!(ingest.header("content-type"), Some("application/x-protobuf"));
    let body = ExportTraceServiceRequest::decode(&ingest.body[..]).unwrap();
    let spans = &body.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2);
    assert!(spans[1].parent_span_id.is_empty(), "root last");
}

#[tokio::test]
async fn create_race_looks_the_name_up_again() {
    let mock = Mock::start(|req, earlier| match req.path() {
        "/api/2.0/mlflow/experiments/get-by-name" if earlier.is_empty() => (404, MISSING.into()),
        "/api/2.0/mlflow/experiments/get-by-name" => (200, EXPERIMENT_7.into()),
        "/api/2.0/mlflow/experiments/create" => {
            (400, r#"{"error_code":"RESOURCE_ALREADY_EXISTS","message":"exists"}"#.into())
        }
        "/v1/traces" => (200, String::new()),
        _ => (500, "{}".into()),
    });
    let mut exp = MlflowExporter::new(
        &settings(&mock.url, MlflowConfig { experiment_name: Some("agents".into()), ..Default::default() }),
        "x",
    )
    .unwrap();
    export(&mut exp, &[trace()]).await.unwrap();
    assert_eq!(exp.experiment_id(), Some("7"));
    assert_eq!(mock.requests().len(), 4);
    assert_eq!(mock.requests()[3].header("x-mlflow-experiment-id"), Some("7"));
    assert_eq!(mock.requests()[3].header("authorization"), None);
}

#[tokio::test]
async fn an_id_is_checked_once_and_a_missing_one_is_refused_clearly() {
    let mock = Mock::start(|req, _| match (req.path(), req.target.contains("experiment_id=7")) {
        ("/api/2.0/mlflow/experiments/get", true) => (200, EXPERIMENT_7.into()),
        ("/api/2.0/mlflow/experiments/get", false) => (404, MISSING.into()),
        ("/v1/traces", _) => (200, String::new()),
        _ => (500, "{}".into()),
    });
    let mut ok = MlflowExporter::new(
        &settings(
            &mock.url,
            MlflowConfig { experiment_id: Some("7".into()), token: Some(Secret("tok-1".into())), ..Default::default() },
        ),
        "x",
    )
    .unwrap();
    export(&mut ok, &[trace()]).await.unwrap();
    export(&mut ok, &[trace()]).await.unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs.iter().filter(|r| r.path() == "/api/2.0/mlflow/experiments/get").count(), 1);
    assert!(reqs.iter().all(|r| r.header("authorization") == Some("Bearer tok-1")), "bearer token on every call");

    let mut missing = MlflowExporter::new(
        &settings(&mock.url, MlflowConfig { experiment_id: Some("999".into()), ..Default::default() }),
        "x",
    )
    .unwrap();
    match export(&mut missing, &[trace()]).await {
        Err(ExportError::Refused { message }) => {
            assert!(message.contains("experiment id 999 does not exist"), "{message}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(missing.experiment_id(), None);
}

#[tokio::test]
async fn failures_are_classified_for_the_runner_without_secrets() {
    // Nothing listening: retryable (the gateway may start before MLflow).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = format!("http://admin:url-secret@127.0.0.1:{port}");
    let cfg = MlflowConfig {
        username: Some("admin".into()),
        password: Some(Secret("pw-secret".into())),
        ..Default::default()
    };
    let mut exp = MlflowExporter::new(&settings(&down, cfg.clone()), "x").unwrap();
    let err = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(matches!(err, ExportError::Retryable { .. }), "{err:?}");
    assert!(err.message().contains("connection failed"), "{}", err.message());

    // 503 while starting, then up: the next attempt resolves and sends.
    let mock = Mock::start(|req, earlier| match req.path() {
        _ if earlier.is_empty() => (503, r#"{"message":"starting"}"#.into()),
        "/api/2.0/mlflow/experiments/get" => {
            (200, r#"{"experiment":{"experiment_id":"0","lifecycle_stage":"active"}}"#.into())
        }
        "/v1/traces" => (200, String::new()),
        _ => (500, "{}".into()),
    });
    let mut exp = MlflowExporter::new(&settings(&mock.url, cfg.clone()), "x").unwrap();
    assert!(matches!(export(&mut exp, &[trace()]).await, Err(ExportError::Retryable { .. })));
    export(&mut exp, &[trace()]).await.unwrap();
    assert_eq!(mock.requests().last().unwrap().header("x-mlflow-experiment-id"), Some("0"), "the Default experiment");

    // Bad credentials: refused, with a hint, never retried or split.
    let mock =
        Mock::start(|_, _| (401, r#"{"error_code":"UNAUTHENTICATED","message":"You are not authenticated."}"#.into()));
    let mut exp = MlflowExporter::new(&settings(&mock.url, cfg.clone()), "x").unwrap();
    let err401 = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(matches!(err401, ExportError::Refused { .. }), "{err401:?}");
    assert!(err401.message().contains("401") && err401.message().contains("credentials"), "{}", err401.message());

    // A bad request while resolving is refused too, never `Rejected` (splitting the batch could not help).
    let mock = Mock::start(|_, _| (400, r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad name"}"#.into()));
    let mut exp = MlflowExporter::new(
        &settings(&mock.url, MlflowConfig { experiment_name: Some("x".into()), ..cfg.clone() }),
        "x",
    )
    .unwrap();
    let err400 = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(matches!(err400, ExportError::Refused { .. }), "{err400:?}");

    // A deleted experiment is refused with a clear message.
    let mock = Mock::start(|_, _| (200, r#"{"experiment":{"experiment_id":"3","lifecycle_stage":"deleted"}}"#.into()));
    let mut exp = MlflowExporter::new(
        &settings(&mock.url, MlflowConfig { experiment_name: Some("old".into()), ..cfg.clone() }),
        "x",
    )
    .unwrap();
    let gone = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(gone.message().contains("is deleted"), "{}", gone.message());

    // The ingestion answer is classified by the shared transport: a 400 there is the batch's fault.
    let mock = Mock::start(|req, _| match req.path() {
        "/v1/traces" => (400, r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad span"}"#.into()),
        _ => (200, EXPERIMENT_7.into()),
    });
    let mut exp = MlflowExporter::new(&settings(&mock.url, cfg.clone()), "x").unwrap();
    assert!(matches!(export(&mut exp, &[trace()]).await, Err(ExportError::Rejected { .. })));

    let basic = crate::export::transport::http::basic_auth("admin", "pw-secret");
    for e in [&err, &err401, &err400, &gone] {
        let text = format!("{e:?} {}", e.message());
        assert!(
            !text.contains("pw-secret") && !text.contains("url-secret") && !text.contains(&basic[6..]),
            "a credential in an export error"
        );
    }
}

#[tokio::test]
async fn an_experiment_deleted_after_resolution_is_looked_up_again() {
    let mock = Mock::start(|req, earlier| {
        let lookups = earlier.iter().filter(|r| r.path() == "/api/2.0/mlflow/experiments/get").count();
        match req.path() {
            "/api/2.0/mlflow/experiments/get" if lookups == 0 => (200, EXPERIMENT_7.into()),
            "/api/2.0/mlflow/experiments/get" => {
                (200, r#"{"experiment":{"experiment_id":"7","lifecycle_stage":"deleted"}}"#.into())
            }
            "/v1/traces" => {
                (404, r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Experiment 7 not found"}"#.into())
            }
            _ => (500, "{}".into()),
        }
    });
    let mut exp = MlflowExporter::new(
        &settings(&mock.url, MlflowConfig { experiment_id: Some("7".into()), ..Default::default() }),
        "x",
    )
    .unwrap();
    let first = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(matches!(first, ExportError::Refused { .. }) && first.message().contains("experiment id 7"), "{first:?}");
    assert_eq!(exp.experiment_id(), None, "forgotten");
    let second = export(&mut exp, &[trace()]).await.unwrap_err();
    assert!(second.message().contains("is deleted"), "{second:?}");
}

#[test]
fn configuration_errors_fail_at_build_time() {
    let s =
        settings("http://127.0.0.1:1", MlflowConfig { token: Some(Secret("bad\ntoken".into())), ..Default::default() });
    let err = MlflowExporter::new(&s, "x").err().expect("a newline cannot go in a header");
    assert!(!err.contains("bad\ntoken") && !err.contains("token\n"), "the token in a configuration error");
}
