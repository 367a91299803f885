use std::sync::Arc;
use clawtrace_core::{assemble::{Assembler, AssembleConfig}, ingest::{decode, record::{parse_record, Record}, reorder::Reorder}, stats::Stats, tree};

#[test]
fn print_corpus() {
    let stats = Arc::new(Stats::default());
    let mut a = Assembler::new(AssembleConfig::default(), stats.clone());
    let mut r = Reorder::new(250.0, 10000);
    let strip = std::env::var("STRIP").is_ok();
    let mut out = vec![];
    let mut evs = vec![];
    let mut now = 0.0;
    for line in include_str!("fixtures/openclaw-2026.9.6-gateway.jsonl").lines() {
        match parse_record(line, 1).unwrap() {
            Record::Marker(n) => { evs.clear(); r.drain(&mut evs); for e in evs.drain(..) { a.ingest(e, now, &mut out); } a.tick(now + 1e9, &mut out); for t in out.drain(..) { print!("{}", tree::render(&t)); } println!("{n}"); }
            Record::Event(mut i) => { now = i.arrived_ms; if strip { if let clawtrace_core::ingest::Body::Value(v) = &mut i.body { v.as_object_mut().unwrap().remove("trace"); } }
                let e = decode(i).unwrap(); r.push(e, now, &mut evs); for e in evs.drain(..) { a.ingest(e, now, &mut out); } a.tick(now, &mut out); }
        }
    }
    r.drain(&mut evs); for e in evs.drain(..) { a.ingest(e, now, &mut out); }
    a.drain_all(now, &mut out);
    for t in out.drain(..) { print!("{}", tree::render(&t)); }
    for (k, v) in stats.snapshot() { if v > 0 { println!("{k}={v}"); } }
}
