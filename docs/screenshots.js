#!/usr/bin/env node
'use strict'
// Takes the MLflow UI screenshots in docs/ (see docs/screenshots.md for the whole procedure).
//
//   MLFLOW_URI=http://127.0.0.1:PORT NODE_PATH=/tmp/shot-tool/node_modules node docs/screenshots.js
//
// Needs: a MLflow 3.17.2 server holding the replayed corpus in experiment "openclaw-demo", Debian's chromium
// (/usr/bin/chromium) and puppeteer-core (npm; drives that Chromium, downloads no browser). Not part of the package
// or its tests.
//
// Why a driver and not `chromium --screenshot URL`: on a fresh profile the MLflow 3.17 UI opens its Assistant side
// panel and a "Detect Issues" popover over the page, and the trace drawer is still sliding in when the CLI
// captures. Here those UI preferences are set in localStorage first (the same keys the UI writes when a person
// closes them), the page is waited for, and one span is clicked so its details show.

const path = require('node:path')
const puppeteer = require('puppeteer-core')

const MLFLOW_URI = (process.env.MLFLOW_URI || process.env.CLAWTRACE_TEST_MLFLOW_URI || '').replace(/\/+$/, '')
const EXPERIMENT = process.env.MLFLOW_EXPERIMENT || 'openclaw-demo'
const SESSION = process.env.SHOT_SESSION || 'agent:main:e2e-tool'
const OUT_DIR = process.env.OUT_DIR || __dirname
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function api(p, body) {
  const res = await fetch(MLFLOW_URI + p, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`)
  return res.json()
}

// The tool-call turn: a trace of SESSION whose spans include an execute_tool span.
async function findToolTurn(experimentId) {
  const ids = []
  let pageToken
  do {
    const r = await api('/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } }],
      max_results: 100, ...(pageToken ? { page_token: pageToken } : {}),
    })
    for (const t of r.traces || []) {
      if ((t.trace_metadata || {})['mlflow.trace.session'] === SESSION) ids.push(t.trace_id)
    }
    pageToken = r.next_page_token
  } while (pageToken)
  for (const id of ids) {
    const { trace } = await api(`/api/3.0/mlflow/traces/get?trace_id=${encodeURIComponent(id)}`)
    if (trace.spans.some((s) => s.name.startsWith('execute_tool'))) return id
  }
  throw new Error(`no trace of session ${SESSION} with an execute_tool span in experiment ${EXPERIMENT}`)
}

async function main() {
  if (!MLFLOW_URI) throw new Error('set MLFLOW_URI (or CLAWTRACE_TEST_MLFLOW_URI)')
  const { experiment } = await api(`/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(EXPERIMENT)}`)
  const eid = experiment.experiment_id
  const traceId = await findToolTurn(eid)

  // The URL the UI itself builds for "open this trace" (selectedEvaluationId + traceId + compareRunsMode=TRACES);
  // startTimeLabel=ALL because the corpus carries its recording timestamps and the list defaults to the last 7 days.
  const q = new URLSearchParams({ startTimeLabel: 'ALL', selectedEvaluationId: traceId, traceId, compareRunsMode: 'TRACES' })
  const traceUrl = `${MLFLOW_URI}/#/experiments/${eid}/traces?${q}`
  const listUrl = `${MLFLOW_URI}/#/experiments/${eid}/traces?startTimeLabel=ALL`

  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--hide-scrollbars'],
  })
  try {
    const page = await browser.newPage()
    await page.goto(`${MLFLOW_URI}/health`)
    await page.evaluate((eid) => {
      localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true')
      localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false')
      localStorage.setItem('mlflow.detectIssues.guidanceShown_v1', 'true')
      localStorage.setItem('mlflow.flagForReview.guidanceShown_v1', 'true')
      // Trace list: the corpus records no prompt text, so the Input column is all "-": show User instead.
      localStorage.setItem(`mlflow.traces-v4.columns.${eid}_v4`, JSON.stringify({ input: false, user: true, trace_id: true, tags: false }))
      localStorage.setItem(`mlflow.traces-v4.column-sizes.${eid}_v3`, JSON.stringify({ session: 250 }))
    }, eid)

    // 1. One turn's trace: span tree, with the tool span selected (type icon, inputs, outputs).
    await page.setViewport({ width: 1400, height: 680 })
    await page.goto(traceUrl, { waitUntil: 'networkidle0' })
    const tool = await page.waitForSelector('::-p-text(execute_tool read)', { timeout: 30000 })
    await tool.click()
    await page.waitForSelector('::-p-text(hello.txt)', { timeout: 30000 })
    await sleep(1500)
    await page.mouse.move(1, 1)
    await page.screenshot({ path: path.join(OUT_DIR, 'mlflow-trace-view.png') })

    // 2. The experiment's trace list: sessions, users, tokens, state.
    await page.setViewport({ width: 1600, height: 1000 })
    await page.goto(`${MLFLOW_URI}/health`) // a fresh document, not just a hash change
    await page.goto(listUrl, { waitUntil: 'networkidle0' })
    await page.waitForSelector(`::-p-text(${SESSION})`, { timeout: 30000 })
    await sleep(1500)
    await page.mouse.move(1, 1)
    await page.screenshot({ path: path.join(OUT_DIR, 'mlflow-traces-list.png') })
  } finally {
    await browser.close()
  }
  console.log(`trace ${traceId}\ntrace view: ${traceUrl}\ntrace list: ${listUrl}`)
}

main().catch((e) => { console.error(e.message || e); process.exit(1) })
