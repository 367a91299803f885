// The event-accounting identity: every record call ends in exactly one of these counters.

/** Counters where a record call ends up: exactly one per call. (`invalidTraceContext` is a flag on an event that
 *  is still used, so it is not an outcome; `eventsQueued` is an intermediate state.) */
export const OUTCOMES = [
  'invalidNotObject', 'invalidMissingType', 'invalidWrongFieldType', 'invalidMalformedJson', 'invalidTooLarge',
  'invalidUnserializable', 'invalidHookName',
  'skippedUnknownType', 'skippedUnknownSource', 'skippedInfraEvent', 'skippedNoCorrelation', 'skippedContentDisabled',
  'eventsInSpans', 'droppedQueueFull', 'droppedAfterShutdown',
]
