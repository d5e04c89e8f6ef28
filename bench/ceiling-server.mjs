// The ceiling for bench/ingest.ts: what Fastify alone does with the same traffic, i.e.
// parse the JSON body and answer {"status":"ok"}. No signature check, validation, store
// or logging, so Inlet's req/s over this one is the share that Inlet's own work leaves.
// Plain JavaScript so that it runs without a loader, as dist/server.js does; a loader
// would add its own memory and start-up CPU to the numbers compared.
import Fastify from 'fastify'

const app = Fastify({ logger: false })

const parsedOk = async (request, reply) => {
  if (typeof request.body !== 'object' || request.body === null) {
    return reply.code(422).send({ status: 'invalid' })
  }
  return { status: 'ok' }
}
app.post('/webhook', parsedOk)
// The same for `--source whatsapp` (Meta-style envelopes).
app.post('/webhooks/whatsapp', parsedOk)

// The harness waits for the same readiness URL as Inlet's.
app.get('/health/ready', async () => ({ status: 'ok' }))

process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})

await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' })
