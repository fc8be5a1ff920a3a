/**
 * Structured JSON logs through Powertools for AWS Lambda's Logger: one line per
 * entry (level, message, timestamp, service, the Lambda context where there is
 * one, then the entry's fields), as CloudWatch Logs Insights reads them. The
 * domain logs through its own port (core/domain/logger.ts); these are its adapters.
 *
 * Any field whose name suggests secret material is replaced before a line is
 * written, wherever it sits in the entry, as a second line of defence: code
 * should not hand secrets to the logger in the first place.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { Logger } from '../domain/logger';

export type { Logger } from '../domain/logger';
export { PowertoolsLogger };

/** The service every line names (POWERTOOLS_SERVICE_NAME in serverless.yml says the same). */
export const SERVICE_NAME = 'eft';

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

/**
 * Powertools' standard keys (as its default formatter writes them), then every
 * field of the entry (persistent, appended or the call's), redacted.
 */
export class RedactingLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        cold_start: context?.coldStart,
        function_name: context?.functionName,
        function_request_id: context?.awsRequestId,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(redact(additionalLogAttributes) as LogAttributes);
  }
}

type Sink = (line: string) => void;

/** The functions of this process that have had an invocation (Lambda: one function per container). */
const warmFunctions = new Set<string>();

/**
 * Powertools' Logger, writing its lines to `sink` when given one (tests collect
 * them) instead of stdout/stderr; its children write to the same place.
 */
class EftPowertoolsLogger extends PowertoolsLogger {
  constructor(
    options: ConstructorParameters<typeof PowertoolsLogger>[0],
    private readonly sink?: Sink,
  ) {
    super(options);
  }

  protected override printLog(logLevel: number, log: Parameters<PowertoolsLogger['printLog']>[1]): void {
    if (!this.sink) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    this.sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }

  #functionName = '';

  /** A child per invocation (runWithLogger) gets the context: cold_start is per function and process, not per child. */
  override addContext(context: Parameters<PowertoolsLogger['addContext']>[0]): void {
    this.#functionName = context.functionName;
    super.addContext(context);
  }

  override getColdStart(): boolean {
    const cold = !warmFunctions.has(this.#functionName);
    warmFunctions.add(this.#functionName);
    return cold;
  }

  protected override createLogger(options?: ConstructorParameters<typeof PowertoolsLogger>[0]): PowertoolsLogger {
    return new EftPowertoolsLogger(options, this.sink);
  }
}

/** A Powertools Logger with the engine's formatter; `keys` are on every line. */
export function createPowertoolsLogger(keys: Record<string, unknown> = {}, sink?: Sink): PowertoolsLogger {
  const { service, ...persistentKeys } = keys;
  return new EftPowertoolsLogger(
    {
      serviceName: typeof service === 'string' ? service : (process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME),
      logFormatter: new RedactingLogFormatter(),
      persistentKeys: persistentKeys as LogAttributes,
    },
    sink,
  );
}

/** The process's logger (one per Lambda container, one per worker). */
export const powertoolsLogger = createPowertoolsLogger();

/**
 * The logger of the invocation under way in this async context: the Lambda
 * wrappers (core/observability/invocation.ts) run each invocation with a child
 * of powertoolsLogger that carries its correlation keys. An async context rather
 * than keys appended to the one shared logger, because invocations can overlap
 * in one process: the local runtime runs a function's invocations concurrently,
 * as a worker runs a batch's jobs.
 */
interface LoggerContext {
  log: PowertoolsLogger;
  /** Keys added to every line written through `logger` in this context (withCorrelationKeys: one message of a batch). */
  keys?: Record<string, unknown>;
}

const invocationLogger = new AsyncLocalStorage<LoggerContext>();

/** Runs `work` with `log` as the current logger, every line of `logger` there adding `keys` (a line's own fields win). */
export function runWithLogger<T>(log: PowertoolsLogger, work: () => T, keys?: Record<string, unknown>): T {
  return invocationLogger.run(keys ? { log, keys } : { log }, work);
}

/** The keys the current context adds to every line (runWithLogger's), for a nested context to extend. */
export function currentLoggerKeys(): Record<string, unknown> | undefined {
  return invocationLogger.getStore()?.keys;
}

const portOwners = new WeakMap<Logger, () => PowertoolsLogger>();

/** The Logger port over a Powertools logger (`resolve` is called per line), adding `keys()` to each line's fields. */
function portOf(resolve: () => PowertoolsLogger, keys: () => Record<string, unknown> | undefined = () => undefined): Logger {
  const fieldsOf = (fields: Record<string, unknown> | undefined) => {
    const added = keys();
    return added ? { ...added, ...fields } : (fields ?? {});
  };
  const port: Logger = {
    debug: (message, fields) => resolve().debug(message, fieldsOf(fields)),
    info: (message, fields) => resolve().info(message, fieldsOf(fields)),
    warn: (message, fields) => resolve().warn(message, fieldsOf(fields)),
    error: (message, fields) => resolve().error(message, fieldsOf(fields)),
  };
  portOwners.set(port, resolve);
  return port;
}

/** The Powertools logger behind a port made here (the wrappers derive an invocation's child from it). */
export function powertoolsOf(port: Logger): PowertoolsLogger {
  const resolve = portOwners.get(port);
  if (!resolve) throw new Error('not a logger of core/observability/logger.ts');
  return resolve();
}

/** What domain code gets: the current invocation's logger, else the process's. */
export const logger: Logger = portOf(
  () => invocationLogger.getStore()?.log ?? powertoolsLogger,
  () => invocationLogger.getStore()?.keys,
);

/** The port over one Powertools logger of its own (a worker's job, a test). */
export function portFor(log: PowertoolsLogger): Logger {
  return portOf(() => log);
}

/**
 * A logger whose every line carries `context` (`service` names the service);
 * `write` receives each line instead of stdout (tests).
 */
export function createLogger(context: Record<string, unknown> = {}, write?: Sink): Logger {
  return portFor(createPowertoolsLogger(context, write));
}

/**
 * A logger that adds `fields` to every line of `parent` (a function's name, say),
 * so no call site has to repeat them; a line's own fields win.
 */
export function childLogger(parent: Logger, fields: Record<string, unknown>): Logger {
  const log =
    (level: keyof Logger) =>
    (message: string, more: Record<string, unknown> = {}) =>
      parent[level](message, { ...fields, ...more });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
