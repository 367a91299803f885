// A loopback HTTP proxy in front of a real backend (MLflow) that counts what the backend *took*: every request it
// forwards and the backend answers 2xx for, decoded (OTLP protobuf or JSON), span id by span id. MLflow upserts a
// re-sent span, so what it stores cannot show a duplicate delivery; this can.
//
//   const px = await countingProxy('http://127.0.0.1:5000')
//   ... configure clawtrace with px.url as the tracking URI ...
//   px.deliveries   Map spanId → how many accepted requests carried it
//   px.duplicates() span ids delivered more than once
//   await px.close()
//
// When the backend is down the proxy answers 503 (a connection refused upstream), as a load balancer would.
import http from 'node:http'

import { decodeRequest } from './langfuse-receiver.mjs'

export async function countingProxy(upstream) {
  const target = new URL(upstream)
  const px = { deliveries: new Map(), accepted: 0, failed: 0, requests: 0 }
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      px.requests++
      const raw = Buffer.concat(chunks)
      const headers = { ...req.headers, host: target.host }
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (ur) => {
        const back = []
        ur.on('data', (c) => back.push(c))
        ur.on('end', () => {
          if (ur.statusCode >= 200 && ur.statusCode < 300 && req.method === 'POST' && req.url.endsWith('/v1/traces')) {
            px.accepted++
            for (const s of decodeRequest(raw, req.headers['content-type'], req.headers['content-encoding']).spans) {
              px.deliveries.set(s.spanId, (px.deliveries.get(s.spanId) ?? 0) + 1)
            }
          }
          res.writeHead(ur.statusCode, ur.headers).end(Buffer.concat(back))
        })
        ur.on('error', () => res.destroy())
      })
      up.on('error', (e) => {
        px.failed++
        if (!res.headersSent) res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `upstream: ${e.code}` }))
      })
      up.end(raw)
    })
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  px.url = `http://127.0.0.1:${server.address().port}`
  px.duplicates = () => [...px.deliveries].filter(([, n]) => n > 1).map(([id]) => id)
  px.close = () => new Promise((ok) => server.close(ok))
  return px
}
