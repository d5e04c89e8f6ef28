// Supply-chain gate for .ci/run: `npm audit --omit=dev` must report no high or critical
// advisory in the production dependencies. Some registries and mirrors offer no advisory
// service (they answer 405); then this says so plainly instead of failing the build.
import { spawnSync } from 'node:child_process'

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' })
let report
try {
  report = JSON.parse(run.stdout)
} catch {
  process.stderr.write(`npm audit printed no report:\n${run.stdout}${run.stderr}`)
  process.exit(1)
}
if (report.metadata?.vulnerabilities === undefined) {
  const reason = report.message ?? report.error?.summary ?? 'no advisory data'
  process.stdout.write(`npm audit: NOT CHECKED, the registry's advisory service is unavailable (${reason})\n`)
  process.exit(0)
}
const { high = 0, critical = 0, total = 0 } = report.metadata.vulnerabilities
process.stdout.write(`npm audit --omit=dev: ${total} advisories, ${high} high, ${critical} critical\n`)
if (high + critical > 0) {
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    if (v.severity === 'high' || v.severity === 'critical') process.stdout.write(`  ${v.severity}: ${name} ${v.range}\n`)
  }
  process.exit(1)
}
