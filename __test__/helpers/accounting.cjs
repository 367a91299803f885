'use strict'
// The accounting identity (docs/ARCHITECTURE.md, "Counters and the accounting identity"): once the pipeline is
// flushed, every received event ended in exactly one fate counter —
//   eventsReceived = eventsInSpans + eventsTranslated + skipped* + invalid* (but invalidTraceContext) + dropped*
// The rule is by name, as in Rust (`Stats::events_accounted`), so a new skipped/invalid/dropped counter joins it.
const assert = require('node:assert/strict')

function isEventFate(name) {
  if (name === 'eventsInSpans' || name === 'eventsTranslated') return true
  return /^(skipped|invalid|dropped)[A-Z]/.test(name) && name !== 'invalidTraceContext'
}

/** The fate counters of a `stats()` snapshot (or of a difference of two), by name. */
function fates(stats) {
  return Object.fromEntries(Object.entries(stats).filter(([k, v]) => typeof v === 'number' && isEventFate(k)))
}

function eventsAccounted(stats) {
  return Object.values(fates(stats)).reduce((a, b) => a + b, 0)
}

/** Asserts the identity on a `stats()` snapshot taken after a flush (the counters are process-wide). */
function assertAccounted(stats, label = 'stats') {
  const nonZero = Object.fromEntries(Object.entries(fates(stats)).filter(([, v]) => v))
  assert.equal(eventsAccounted(stats), stats.eventsReceived, `${label}: eventsReceived vs its fates ${JSON.stringify(nonZero)}`)
}

module.exports = { isEventFate, fates, eventsAccounted, assertAccounted }
