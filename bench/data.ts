// Builds a large Inlet database for the reads benchmark by bulk insert (not over HTTP).
// Run with `npm run bench:data -- --rows N [options]` (`--help` lists them).
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { displayPath, integerOption, parseCli, progress, runMain, UsageError } from './lib/cli.js'
import { buildDatabase } from './lib/dataset.js'

const REPO = path.resolve(import.meta.dirname, '..')

const USAGE = `Usage: npm run bench:data -- --rows N [options]

Builds a SQLite database with Inlet's schema (created by its own store) and N messages of a
year of skewed, seeded traffic, for npm run bench:reads. An existing file is replaced.

  --rows N      messages to insert (required)
  --out PATH    database file (default bench/out/reads-<rows>.db); a summary goes to PATH.json
  --senders S   distinct senders, drawn by Zipf's law (default 5000)
  --seed K      random seed (default 1)
  --help        this text
`

async function main(argv: string[]): Promise<number> {
  const values = parseCli(argv, {
    rows: { type: 'string' },
    out: { type: 'string' },
    senders: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  })
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.rows === undefined) throw new UsageError('--rows is required')
  const rows = integerOption('rows', values.rows as string, 1)
  const senders = integerOption('senders', values.senders as string, 1)
  const seed = integerOption('seed', values.seed as string, 0)
  const file = path.resolve(
    (values.out as string | undefined) ?? path.join(REPO, 'bench', 'out', `reads-${rows}.db`),
  )
  mkdirSync(path.dirname(file), { recursive: true })

  progress(`building ${displayPath(file)}: ${rows} rows, ${senders} senders, seed ${seed} …`)
  const summary = await buildDatabase({ file, rows, senders, seed }, progress)
  for (const p of summary.planted) {
    progress(`  ${p.wordClass.padEnd(6)} word "${p.word}": ${p.texts} texts (planted share ${p.share})`)
  }
  process.stdout.write(`built ${displayPath(file)} in ${summary.seconds.toFixed(1)} s\n`)
  return 0
}

await runMain(main, USAGE)
