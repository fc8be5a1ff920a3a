/**
 * Structured JSON logs (one line per entry, as CloudWatch Logs Insights reads
 * them). Any field whose name suggests secret material is replaced before it is
 * written, wherever it sits in the entry, as a second line of defence: code
 * should not hand secrets to the logger in the first place.
 */
import type { Logger } from '../domain/logger';

export type { Logger } from '../domain/logger';

const SECRET_FIELD = /pass(word|phrase)?|secret|private.?key|authorization|credential|token|signature/i;
export const REDACTED = '[redacted]';

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, SECRET_FIELD.test(key) ? REDACTED : redact(v, depth + 1)]),
  );
}

type Level = 'debug' | 'info' | 'warn' | 'error';

export function createLogger(
  context: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Logger {
  const log =
    (level: Level) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      write(JSON.stringify({ level, time: new Date().toISOString(), message, ...(redact({ ...context, ...fields }) as object) }));
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const logger = createLogger({ service: 'eft', region: process.env.AWS_REGION });

/**
 * A logger that adds `fields` to every line of `parent` (a task's job and
 * request ids, say), so no call site has to repeat them; a line's own fields win.
 */
export function childLogger(parent: Logger, fields: Record<string, unknown>): Logger {
  const log =
    (level: Level) =>
    (message: string, more: Record<string, unknown> = {}) =>
      parent[level](message, { ...fields, ...more });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
