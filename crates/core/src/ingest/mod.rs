//! Ingest: what crosses from the record calls to the background, and its decoding into validated events.
//!
//! The gateway thread only moves a JSON string, a batch's copied arrays (`compact.rs`) or an already-parsed value
//! into an [`Inbound`]; parsing, transcoding, validation and ordering all happen here, on the runtime.

pub mod catalogue;
pub mod compact;
pub mod event;
pub mod fields;
pub mod legacy;
pub mod project;
pub mod record;
pub mod reorder;
pub mod surrogates;

pub use catalogue::{Class, Correlation, EventKind, Target};
pub use event::{decode, DecodeError, Event, Source, TraceCtx};
pub use fields::Fields;

/// The body of a record call: the raw JSON text produced on the gateway thread, or a value built in Rust.
#[derive(Debug)]
pub enum Body {
    Json(String),
    Value(serde_json::Value),
    /// A diagnostic event's fields as a batch's reader decoded them (`compact.rs`), its kind when its type
    /// crossed as a number (so it needs no parse), and its trace context when it crossed in canonical form (then
    /// read straight into ids: `trace` is not among the fields). The reader checked each value's type as it read
    /// it: decode does not go over them again.
    Fields(Fields, Option<EventKind>, Option<TraceCtx>),
    /// An event the plugin did not serialise because its type is `Infra` (`plugin/hotpath.mjs`): it is only
    /// counted, and its `seq` keeps the reorder buffer free of a gap to wait for.
    Skipped {
        kind: EventKind,
        seq: Option<u64>,
    },
    /// Many diagnostic events in the compact form (`compact.rs`), as one crossing brought them: the worker's
    /// drain expands it into one event each (`pipeline/ingress.rs`).
    Batch(Box<compact::Batch>),
    /// An event of a batch that could not be read: decode counts it under this reason.
    Invalid(DecodeError),
}

/// One record call, as queued for the background. Everything here is cheap to build on the gateway thread.
#[derive(Debug)]
pub struct Inbound {
    pub src: Source,
    /// Emitting process: `seq` restarts per process, so ordering is per pid.
    pub pid: u32,
    /// Arrival time in ms since the epoch (the record's `rt` when replaying).
    pub arrived_ms: f64,
    /// Listener metadata `{trusted, internal}` for diagnostic events.
    pub trusted: bool,
    /// Hook name for hook records.
    pub hook: Option<String>,
    pub body: Body,
    /// Hook context (second argument of the hook handler). Boxed: only hooks have one, and every queued event
    /// would pay for its room.
    pub ctx: Option<Box<Body>>,
}

impl Inbound {
    /// How many events this record call carries (a batch many, anything else one): what the queue and the
    /// counters count.
    pub fn events(&self) -> usize {
        match self.body {
            Body::Batch(ref b) => b.events as usize,
            _ => 1,
        }
    }
}

/// Events larger than this are refused before parsing: no legitimate diagnostic event comes close.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Parses JSON text; text refused only for lone surrogate escapes is repaired (see `surrogates.rs`) and kept.
pub fn parse_json(text: &str) -> Option<serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(_) => serde_json::from_str(&surrogates::repair_lone_surrogates(text)?).ok(),
    }
}
