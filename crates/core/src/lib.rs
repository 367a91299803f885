//! clawtrace-core: OpenClaw gateway events in, complete traces out.
//!
//! Data flow, one module each: [`ingest`] (decode, validate, reorder by `seq`) → [`assemble`] (spans and traces,
//! by trace context or correlation) → [`enrich`] (usage, cost, session, latency) → [`export`] (one sink per
//! backend). [`pipeline`] runs it all on a Tokio runtime off the caller's thread; [`registry`] is the one
//! instance per process that the N-API layer talks to.

pub mod assemble;
pub mod config;
pub mod enrich;
pub mod errors;
pub mod export;
pub mod id_hash;
pub mod ingest;
pub mod model;
pub mod pipeline;
pub mod registry;
pub mod secrets;
pub mod settings;
pub mod stats;

#[cfg(test)]
pub(crate) mod testing;
