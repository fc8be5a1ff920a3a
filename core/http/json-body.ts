import type { APIGatewayProxyEvent } from 'aws-lambda';
import { EftError, type FieldIssue, ValidationError } from '../domain/errors';

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

/** application/json, or any +json type, with or without parameters (as API Gateway clients send it). */
const JSON_CONTENT_TYPE = /^application\/([a-z0-9.+-]+\+)?json(;|$)/i;

/**
 * Keys that pollute prototypes when code copies a parsed body into another
 * object (`Object.assign`, a deep merge). JSON.parse itself makes them plain
 * own properties, so they are found and refused by name, with where they are,
 * rather than reported as "not valid JSON" (which the body is).
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

/**
 * The request body as JSON: refused with 415 unless declared as JSON, with a
 * 400 naming `body` when it does not parse, and with a 400 naming each
 * `__proto__` or `constructor` key. The headers must be normalised (lower case).
 */
export function parseJsonBody(event: Pick<APIGatewayProxyEvent, 'headers' | 'body' | 'isBase64Encoded'>): unknown {
  const contentType = event.headers?.['content-type'] ?? '';
  if (!JSON_CONTENT_TYPE.test(contentType)) {
    throw new UnsupportedMediaTypeError('the request body must be JSON (Content-Type: application/json)');
  }
  if (event.body === null || event.body === undefined) throw new MalformedJsonError();
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MalformedJsonError();
  }
  const forbidden = forbiddenKeys(parsed);
  if (forbidden.length > 0) throw new ValidationError(forbidden);
  return parsed;
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
