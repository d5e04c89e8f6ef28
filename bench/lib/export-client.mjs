// The export client of bench:mixed, in a process of its own: a client reading 40 MB/s
// in the load generator's event loop would delay its handling of webhook answers and
// count against the server. Exports the whole database back to back until the deadline,
// one JSON line per export: {"ms":…,"status":…,"bytes":…}.
import { request } from 'node:http'

const [port, untilEpochMs] = process.argv.slice(2).map(Number)

function exportOnce() {
  return new Promise((resolve) => {
    const started = performance.now()
    let bytes = 0
    const req = request({ host: '127.0.0.1', port, path: '/export?format=ndjson' }, (res) => {
      res.on('data', (chunk) => {
        bytes += chunk.length
      })
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode, bytes }))
      res.on('error', () => resolve({ ms: performance.now() - started, status: 0, bytes }))
    })
    req.on('error', () => resolve({ ms: performance.now() - started, status: 0, bytes }))
    req.end()
  })
}

while (Date.now() < untilEpochMs) process.stdout.write(`${JSON.stringify(await exportOnce())}\n`)
