import path from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'

/** A mistake on the command line: reported with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Strict node:util parseArgs whose errors are UsageErrors. */
export function parseCli(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values as Record<
      string,
      string | boolean | undefined
    >
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** A decimal integer option of at least `min`, or a UsageError naming it. */
export function integerOption(name: string, raw: string, min: number): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`)
  }
  return Number(raw)
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`)
}

/** Relative to the working directory when inside it, so printed paths stay short. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? path.resolve(file) : relative
}

/** Runs a bench's main: usage errors exit 2 with the usage text, its own exit code otherwise. */
export async function runMain(main: (argv: string[]) => Promise<number>, usage: string): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`${error.message}\n\n${usage}`)
    process.exitCode = 2
  }
}
