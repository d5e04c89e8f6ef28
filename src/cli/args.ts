import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { type CliContext, CliError, type Command } from './command.js'

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

/** The help lines of options several commands share, worded once. */
export const OPTION_HELP = {
  url: '  --url URL            the server (default: $INLET_URL, else http://127.0.0.1:$PORT, PORT 8000)',
  token: '  --token TOKEN        the read token, sent as Authorization: Bearer (default: $READ_API_TOKEN)',
  database:
    '  --database URL       sqlite:///rel.db, sqlite:////abs.db or postgres://… (default: $DATABASE_URL,\n' +
    '                       else sqlite:///data/app.db), read exactly as the server reads it',
  help: '  -h, --help           show this help',
}

/**
 * node:util's parseArgs in strict mode, with `-h/--help` added and its errors turned into
 * one line. Returns null once the usage is printed for --help.
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  command: Pick<Command, 'name' | 'usage'>,
  argv: string[],
  context: Pick<CliContext, 'stdout'>,
  options: O,
  positionals: { max: number } = { max: 0 },
) {
  const parse = () =>
    parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true })
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse()
  } catch (error) {
    throw new CliError(`${describeParseError(error)} (see inlet ${command.name} --help)`)
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    context.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`)
    return null
  }
  if (parsed.positionals.length > positionals.max) {
    const extra = parsed.positionals[positionals.max]
    throw new CliError(`unexpected argument ${JSON.stringify(extra)} (see inlet ${command.name} --help)`)
  }
  return parsed
}

function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string }
  const option = /'(-[^' ]+)/.exec(message ?? '')?.[1]
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return message?.includes('argument missing')
        ? `option ${option} needs a value`
        : `invalid value for ${option}`
    default:
      return String(message)
  }
}

/** An integer option's value, or the one-line reason it is not one. */
export function integerOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  range: { min: number; max: number },
): number {
  if (raw === undefined) return fallback
  if (!/^[0-9]+$/.test(raw) || Number(raw) < range.min || Number(raw) > range.max) {
    throw new CliError(
      `--${name} must be an integer from ${range.min} to ${range.max} (got ${JSON.stringify(raw)})`,
    )
  }
  return Number(raw)
}
