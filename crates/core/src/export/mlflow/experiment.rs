//! The experiment the traces go to, resolved once and lazily, on the first export: MLflow's OTLP endpoint takes a
//! numeric id that must exist. By id: checked with `experiments/get`. By name: `experiments/get-by-name`, created
//! when missing, and looked up again when a concurrent creator won the race (`RESOURCE_ALREADY_EXISTS`).
//!
//! Failures use the sink's own semantics, so a gateway that starts before MLflow loses nothing: an unreachable
//! server (or 429/502–504) is `Retryable` and the runner retries; 401, 403, a missing or deleted experiment are
//! `Refused` (no batch would fare better). Nothing is cached until it succeeds, so the next batch asks again.

use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::config::{ExperimentRef, MlflowSettings};
use crate::export::transport::http::{classify, error_chain, parse_retry_after, redact_url, text_snippet};
use crate::export::ExportError;

pub struct ExperimentResolver {
    client: reqwest::Client,
    base: reqwest::Url,
    base_for_errors: String,
    authorization: Option<HeaderValue>,
    target: ExperimentRef,
    resolved: Option<String>,
}

/// One answer of the REST API: status, MLflow's `error_code` (if any) and the JSON body.
struct Answer {
    status: u16,
    error_code: String,
    body: Value,
    retry_after: Option<Duration>,
}

impl ExperimentResolver {
    pub fn new(settings: &MlflowSettings) -> Result<ExperimentResolver, String> {
        let base =
            reqwest::Url::parse(&settings.tracking_uri).map_err(|e| format!("mlflow: invalid tracking URI: {e}"))?;
        let authorization = match &settings.authorization {
            Some(a) => {
                let mut v = HeaderValue::from_str(&a.0)
                    .map_err(|_| "mlflow: credentials contain characters not allowed in a header".to_string())?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("clawtrace/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("mlflow: cannot build HTTP client: {e}"))?;
        Ok(ExperimentResolver {
            base_for_errors: redact_url(&base),
            base,
            client,
            authorization,
            target: settings.experiment.clone(),
            resolved: None,
        })
    }

    /// The id, once resolved.
    pub fn resolved(&self) -> Option<&str> {
        self.resolved.as_deref()
    }

    /// Forgets the id, so the next export asks again (the experiment may have been deleted meanwhile).
    pub fn reset(&mut self) {
        self.resolved = None;
    }

    /// What the user asked for, for messages.
    pub fn describe(&self) -> String {
        match &self.target {
            ExperimentRef::Id(id) => format!("experiment id {id}"),
            ExperimentRef::Name(name) => format!("experiment {name:?}"),
        }
    }

    /// The experiment id, asking the server only until it has answered once.
    pub async fn resolve(&mut self) -> Result<String, ExportError> {
        if let Some(id) = &self.resolved {
            return Ok(id.clone());
        }
        let id = match self.target.clone() {
            ExperimentRef::Id(id) => {
                let a =
                    self.call(Method::GET, "api/2.0/mlflow/experiments/get", &[("experiment_id", &id)], None).await?;
                self.experiment_from(a, &format!("experiment id {id}"))?
            }
            ExperimentRef::Name(name) => self.get_or_create(&name).await?,
        };
        self.resolved = Some(id.clone());
        Ok(id)
    }

    async fn get_or_create(&self, name: &str) -> Result<String, ExportError> {
        let what = format!("experiment {name:?}");
        let a = self.get_by_name(name).await?;
        if a.status != 404 || a.error_code != "RESOURCE_DOES_NOT_EXIST" {
            return self.experiment_from(a, &what);
        }
        let body = serde_json::json!({ "name": name });
        let created = self.call(Method::POST, "api/2.0/mlflow/experiments/create", &[], Some(body)).await?;
        if created.status == 200 {
            return match created.body.get("experiment_id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => Ok(id.to_string()),
                _ => Err(ExportError::Refused {
                    message: format!("mlflow: creating {what} on {} gave no experiment_id", self.base_for_errors),
                }),
            };
        }
        if created.error_code == "RESOURCE_ALREADY_EXISTS" {
            // Someone else created it between our lookup and our create.
            let again = self.get_by_name(name).await?;
            return self.experiment_from(again, &what);
        }
        Err(self.failure(created, &format!("creating {what}")))
    }

    async fn get_by_name(&self, name: &str) -> Result<Answer, ExportError> {
        self.call(Method::GET, "api/2.0/mlflow/experiments/get-by-name", &[("experiment_name", name)], None).await
    }

    /// `{"experiment": {"experiment_id", "lifecycle_stage", …}}` → the id of a live experiment.
    fn experiment_from(&self, a: Answer, what: &str) -> Result<String, ExportError> {
        if a.status != 200 {
            if a.status == 404 {
                return Err(ExportError::Refused {
                    message: format!("mlflow: {what} does not exist on {} (create it, or configure experimentName to have it created)", self.base_for_errors),
                });
            }
            return Err(self.failure(a, &format!("looking up {what}")));
        }
        let exp = a.body.get("experiment").cloned().unwrap_or(Value::Null);
        let Some(id) = exp.get("experiment_id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
            return Err(ExportError::Refused {
                message: format!("mlflow: looking up {what} on {} gave no experiment_id", self.base_for_errors),
            });
        };
        if exp.get("lifecycle_stage").and_then(Value::as_str) == Some("deleted") {
            return Err(ExportError::Refused {
                message: format!(
                    "mlflow: {what} (id {id}) is deleted on {}; restore it or choose another experiment",
                    self.base_for_errors
                ),
            });
        }
        Ok(id.to_string())
    }

    /// A non-success answer as an export error. Bad-request answers are `Refused`, never `Rejected`: the batch is
    /// not at fault, so splitting it could not help.
    fn failure(&self, a: Answer, doing: &str) -> ExportError {
        let detail = a.body.get("message").and_then(Value::as_str).map(text_snippet).unwrap_or_default();
        let hint = match a.status {
            401 | 403 => " (check the MLflow credentials: MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)",
            _ => "",
        };
        let code = if a.error_code.is_empty() { String::new() } else { format!(" {}", a.error_code) };
        let message =
            format!("mlflow: {doing} on {} answered {}{code}: {detail}{hint}", self.base_for_errors, a.status);
        match classify(a.status, message, a.retry_after) {
            ExportError::Rejected { message } => ExportError::Refused { message },
            other => other,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Answer, ExportError> {
        let mut url = self.base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| ExportError::Refused { message: "mlflow: tracking URI cannot be a base URL".into() })?;
            segs.pop_if_empty();
            segs.extend(path.split('/'));
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        let mut req = self.client.request(method.clone(), url);
        if let Some(a) = &self.authorization {
            req = req.header(AUTHORIZATION, a.clone());
        }
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&b).expect("JSON values serialise"));
        }
        let resp = req.send().await.map_err(|e| {
            let kind = crate::export::transport::http::failure_kind(&e);
            let base = self.base_for_errors.trim_end_matches('/');
            ExportError::Retryable {
                message: format!(
                    "mlflow: {method} {base}/{path} {kind}: {} (experiment not resolved yet)",
                    error_chain(&e.without_url())
                ),
                retry_after: None,
            }
        })?;
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let error_code = body.get("error_code").and_then(Value::as_str).unwrap_or("").to_string();
        Ok(Answer { status, error_code, body, retry_after })
    }
}
