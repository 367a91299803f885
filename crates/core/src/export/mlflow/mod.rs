//! The MLflow sink (to be built): OTLP/HTTP to `{tracking}/v1/traces` with `x-mlflow-experiment-id`.

pub mod config;

pub use config::MlflowConfig;
