/**
 * EventBridge event patterns (also Lambda's event filters), as documented in
 * "Amazon EventBridge event patterns": a pattern names fields of the event;
 * each leaf is an array of matchers, any of which may match the field's value
 * (or any element of an array value). Matchers: literal values (strings,
 * numbers compared as numbers, booleans, null), prefix, suffix,
 * equals-ignore-case, wildcard, anything-but (a value, a list, or a prefix/
 * suffix/equals-ignore-case/wildcard), exists, numeric ranges, and `$or`.
 * A pattern using anything else (cidr…) is refused when the rule is loaded.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Matcher = Json;

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const STRING_MATCHERS = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard'];
const MATCHERS = [...STRING_MATCHERS, 'anything-but', 'exists', 'numeric'];
const NUMERIC_OPERATORS = ['<', '<=', '=', '>', '>='];

/** Throws, naming the place, unless `pattern` is a pattern this module can apply. */
export function checkPattern(pattern: unknown, where = 'the pattern'): void {
  if (!isObject(pattern) || Object.keys(pattern).length === 0) throw new Error(`${where} must be a non-empty JSON object`);
  for (const [key, value] of Object.entries(pattern)) {
    const at = `${where} at ${key}`;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) throw new Error(`${at} must list at least two patterns`);
      value.forEach((alternative, i) => {
        checkPattern(alternative, `${at}[${i}]`);
      });
    } else if (Array.isArray(value)) {
      if (value.length === 0) throw new Error(`${at} is an empty list, which matches nothing`);
      for (const matcher of value) checkMatcher(matcher, at);
    } else if (isObject(value)) {
      checkPattern(value, at);
    } else {
      throw new Error(`${at} must be a list of matchers or a nested pattern`);
    }
  }
}

function checkMatcher(matcher: Matcher, at: string): void {
  if (!isObject(matcher)) return;
  const keys = Object.keys(matcher);
  const [name = ''] = keys;
  const value = matcher[name];
  if (keys.length !== 1 || !MATCHERS.includes(name)) {
    throw new Error(`${at}: ${JSON.stringify(matcher)} is not a matcher the local EventBridge supports (${MATCHERS.join(', ')})`);
  }
  if (name === 'exists' && typeof value !== 'boolean') throw new Error(`${at}: exists takes true or false`);
  if (name === 'numeric') {
    if (!Array.isArray(value) || value.length === 0 || value.length % 2 !== 0)
      throw new Error(`${at}: numeric takes operator, number pairs`);
    for (let i = 0; i < value.length; i += 2) {
      if (!NUMERIC_OPERATORS.includes(String(value[i])) || typeof value[i + 1] !== 'number') {
        throw new Error(`${at}: numeric takes operator, number pairs`);
      }
    }
  }
  if (name === 'anything-but') {
    const inner = Array.isArray(value) ? value : [value];
    for (const excluded of inner) {
      if (
        isObject(excluded) &&
        !(Object.keys(excluded).length === 1 && STRING_MATCHERS.includes(Object.keys(excluded)[0] ?? ''))
      ) {
        throw new Error(`${at}: anything-but takes values, or one of ${STRING_MATCHERS.join(', ')}`);
      }
    }
  }
  if (STRING_MATCHERS.includes(name)) {
    const text = isObject(value) && name !== 'equals-ignore-case' && name !== 'wildcard' ? value['equals-ignore-case'] : value;
    if (typeof text !== 'string' && !(name === 'equals-ignore-case' && Array.isArray(value))) {
      throw new Error(`${at}: ${name} takes a string`);
    }
  }
}

/** Whether `event` (any JSON value: an EventBridge event, a Lambda filter's record) matches `pattern`. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) return false;
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(expected as Json[]).some((alternative) => matchesPattern(alternative, event))) return false;
      continue;
    }
    const present = isObject(event) && Object.hasOwn(event, key);
    const value = present ? (event as Record<string, Json>)[key] : undefined;
    const matched = Array.isArray(expected) ? matchesLeaf(expected, value, present) : matchesPattern(expected, value);
    if (!matched) return false;
  }
  return true;
}

function matchesLeaf(matchers: Matcher[], value: Json | undefined, present: boolean): boolean {
  const values: Json[] = !present ? [] : Array.isArray(value) ? value : [value as Json];
  return matchers.some((matcher) => {
    if (isObject(matcher) && 'exists' in matcher) return matcher.exists === (present && !isObject(value));
    return values.some((candidate) => matchesValue(matcher, candidate));
  });
}

const lower = (text: string) => text.toLowerCase();
const wildcard = (pattern: string, text: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  ).test(text);

function matchesValue(matcher: Matcher, value: Json): boolean {
  if (!isObject(matcher)) return typeof matcher === 'number' ? typeof value === 'number' && value === matcher : value === matcher;
  const [name = '', spec] = Object.entries(matcher)[0] ?? [];
  if (name === 'anything-but')
    return !(Array.isArray(spec) ? spec : [spec as Json]).some((excluded) => matchesValue(excluded, value));
  if (name === 'numeric') return typeof value === 'number' && numericMatches(spec as Json[], value);
  if (typeof value !== 'string') return false;
  const ignoreCase = isObject(spec);
  const text = String(ignoreCase ? spec['equals-ignore-case'] : spec);
  switch (name) {
    case 'prefix':
      return ignoreCase ? lower(value).startsWith(lower(text)) : value.startsWith(text);
    case 'suffix':
      return ignoreCase ? lower(value).endsWith(lower(text)) : value.endsWith(text);
    case 'equals-ignore-case':
      return (Array.isArray(spec) ? spec : [spec]).some((candidate) => lower(String(candidate)) === lower(value));
    case 'wildcard':
      return wildcard(text, value);
    default:
      return false;
  }
}

function numericMatches(conditions: Json[], value: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const bound = conditions[i + 1] as number;
    const holds = { '<': value < bound, '<=': value <= bound, '=': value === bound, '>': value > bound, '>=': value >= bound }[
      conditions[i] as '<' | '<=' | '=' | '>' | '>='
    ];
    if (!holds) return false;
  }
  return true;
}
