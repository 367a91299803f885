// How a TypeScript user calls clawtrace, checked by `tsc --noEmit` (__test__/types.test.mjs) against the published
// declarations (index.d.ts, config.d.ts). Each `@ts-expect-error` is a misuse the types must reject: tsc fails if
// one of them compiles.
import * as clawtrace from 'clawtrace'
import type { ClawtraceConfig, ClawtraceStats, SinkStats } from 'clawtrace'

declare function onInternalDiagnosticEvent(listener: (evt: object, meta: { trusted: boolean }) => void): void
declare function onAgentEvent(listener: (evt: object) => void): void

export async function usage(): Promise<void> {
  const config: ClawtraceConfig = {
    exporters: {
      file: { path: '/var/log/openclaw/traces.jsonl' },
      otlp: { endpoint: 'http://collector:4318', protocol: 'http/protobuf', compression: 'gzip', headers: { a: 'b' } },
      mlflow: { trackingUri: 'http://127.0.0.1:5000', experimentName: 'openclaw' },
      langfuse: { publicKey: 'pk-lf-1', secretKey: 'sk-lf-1', environment: 'production' },
    },
    sampling: { ratio: 0.5, keepErrors: true, keepSlowerThanMs: 30_000 },
    captureContent: true,
    redact: { patterns: ['ACME-\\d+'], replacement: '[X]' },
    spool: { dir: '/var/lib/openclaw/clawtrace-spool' },
    pricing: { 'gpt-5': { input: 1.25, output: 10 } },
    batch: { maxSpans: 512, retryDeadlineMs: 30_000 },
  }
  await clawtrace.configure(config)
  await clawtrace.configure()

  onInternalDiagnosticEvent((evt, meta) => {
    const queued: boolean = clawtrace.recordDiagnostic(JSON.stringify(evt), meta.trusted)
    void queued
  })
  onAgentEvent((evt) => clawtrace.recordAgent(evt))
  clawtrace.recordHook('llm_output', { text: 'hi' }, { sessionKey: 'agent:main:main' })
  clawtrace.onError((e) => {
    const text: string = `${e.sink} ${e.kind}: ${e.message}`
    void text
  })

  const summary = await clawtrace.replay('events.jsonl')
  const events: number = summary.events + summary.malformedLines
  const flushed: boolean = (await clawtrace.flush(5000)) && summary.flushed
  const stats: ClawtraceStats = clawtrace.stats()
  const exported: number = stats.spansExported + stats.eventsReceived
  const file: SinkStats | undefined = stats.sinks.file
  const delivered: boolean = await clawtrace.shutdown(5000)
  void [events, flushed, exported, file, delivered]

  // @ts-expect-error: a typo in an exporter key
  await clawtrace.configure({ exporters: { fiel: { path: 'x' } } })
  // @ts-expect-error: the file exporter needs its path
  await clawtrace.configure({ exporters: { file: {} } })
  // @ts-expect-error: the OTLP protocol is one of two strings
  await clawtrace.configure({ exporters: { otlp: { protocol: 'grpc' } } })
  // @ts-expect-error: ratio is a number
  await clawtrace.configure({ sampling: { ratio: '0.5' } })
  // @ts-expect-error: replay takes a path
  await clawtrace.replay()
  // @ts-expect-error: stats() is synchronous, not a promise
  await clawtrace.stats().then(() => {})
}
