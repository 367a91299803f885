//! The Langfuse sink (to be built): OTLP/HTTP to `{base}/api/public/otel/v1/traces`, ingestion version 4.

pub mod config;

pub use config::LangfuseConfig;
