import type { APIGatewayProxyEvent } from 'aws-lambda';
import { EftError, type FieldIssue, ValidationError } from '../../domain/errors';

/** A body declared as something other than JSON (415). */
export class UnsupportedMediaTypeError extends EftError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}

/** A body that does not parse as JSON at all (400, naming `body`). */
export class MalformedJsonError extends EftError {
  readonly code = 'MALFORMED_JSON';
  readonly issues: FieldIssue[] = [{ field: 'body', message: 'is not valid JSON' }];
  constructor() {
    super('the request body is not valid JSON');
  }
}

/**
 * Keys that pollute prototypes when code copies a parsed body into another
 * object (`Object.assign`, a deep merge). @middy/http-json-body-parser refuses
 * `__proto__` (and `constructor` holding a `prototype`) with a bare 422 "Forbidden
 * key"; `constructor` alone it lets through. Both are refused here by name, with
 * where they are, rather than reported as "not valid JSON" (which the body is).
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

/** After the body parser: a parsed body holding a forbidden key anywhere is a 400 naming each. */
export function refuseForbiddenKeys(body: unknown): void {
  const forbidden = forbiddenKeys(body);
  if (forbidden.length > 0) throw new ValidationError(forbidden);
}

/**
 * The body parser's errors as the engine's typed ones: 415 for a body not
 * declared as JSON, a 400 naming each forbidden key (found in the raw body,
 * which JSON.parse without a reviver reads as plain own keys), and a 400
 * naming `body` for anything that does not parse.
 */
export function fromBodyParser(error: unknown, event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): unknown {
  const e = error as { statusCode?: number; message?: string; cause?: { package?: string } } | undefined;
  if (e?.cause?.package !== '@middy/http-json-body-parser') return error;
  if (e.statusCode === 415)
    return new UnsupportedMediaTypeError('the request body must be JSON (Content-Type: application/json)');
  if (e.message === 'Forbidden key in JSON body' && typeof event.body === 'string') {
    const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    return new ValidationError(forbiddenKeys(JSON.parse(raw)));
  }
  return new MalformedJsonError();
}

/** A place in the document: its key and the place that holds it (a path is built only when reported). */
interface Place {
  key: string;
  parent?: Place;
}

function pathOf(place: Place): string {
  const keys: string[] = [];
  for (let at: Place | undefined = place; at; at = at.parent) keys.unshift(at.key);
  return keys.join('.');
}

/** Every forbidden key anywhere in the document, named by its path (`source.__proto__`, `items.0.constructor`). */
function forbiddenKeys(document: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  // Iterative, and no path copied per level: a 16 KiB body can nest thousands of levels deep.
  const pending: Array<{ value: unknown; place?: Place }> = [{ value: document }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    for (const [key, child] of Object.entries(next.value)) {
      const place: Place = { key, ...(next.place ? { parent: next.place } : {}) };
      if (FORBIDDEN_KEYS.has(key)) {
        issues.push({ field: pathOf(place), message: `is not allowed: ${key} is refused as a key anywhere in a request` });
      } else {
        pending.push({ value: child, place });
      }
    }
  }
  return issues;
}
