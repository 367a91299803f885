//! Machinery every network sink shares: the sink runner (queue, batching, deadlines, retry, spool), the HTTP
//! transport, the OTLP protobuf/JSON request builder, the direct OTLP/JSON and protobuf writers and the on-disk
//! spool, and the pool of body buffers the direct writers fill.

pub mod attr_ref;
pub mod backlog;
pub mod body_pool;
pub mod http;
pub mod otlp_json;
pub mod otlp_proto;
pub mod otlp_protobuf;
pub mod runner;
pub mod spool;
