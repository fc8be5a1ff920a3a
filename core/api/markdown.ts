/**
 * docs/api.md, rendered from the OpenAPI document alone (one source): the
 * operations, the error codes and SSH security policies the document carries
 * as extensions, and every schema.
 */

type Json = Record<string, unknown>;

interface ErrorCodeRow {
  code: string;
  status?: number;
  uses: string[];
  meaning: string;
}

interface SshPolicies {
  default: string;
  policies: Record<string, { description: string; algorithms: Record<string, string[]> }>;
}

const METHODS = ['get', 'post', 'patch', 'put', 'delete'] as const;
const USE_NAMES: Record<string, string> = { request: 'request', validation: 'endpoint validation', job: 'job' };
const ALGORITHM_CLASSES: [string, string][] = [
  ['kex', 'key exchange'],
  ['cipher', 'ciphers'],
  ['mac', 'MACs'],
  ['serverHostKey', 'host keys'],
];

const code = (text: string) => `\`${text}\``;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const refName = (ref: string) => ref.replace('#/components/schemas/', '');
const link = (name: string) => `[${code(name)}](#${name.toLowerCase()})`;

interface OperationEntry {
  method: string;
  path: string;
  operation: Json;
}

function operationsOf(document: Json): OperationEntry[] {
  const paths = document.paths as Record<string, Record<string, Json>>;
  return Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ method, path, operation: item[method] as Json })),
  );
}

/** A schema in a few words: a reference's name, or its type and constraints. */
function describeSchema(schema: Json | undefined): string {
  if (!schema) return '';
  if (typeof schema.$ref === 'string') return link(refName(schema.$ref));
  const alternatives = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (alternatives) return alternatives.map(describeSchema).join(' or ');
  const parts: string[] = [String(schema.type ?? 'any')];
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map((v) => code(String(v))).join(', ')}`);
  if (typeof schema.pattern === 'string') parts.push(`pattern ${code(schema.pattern)}`);
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    parts.push(`${schema.minimum ?? ''}–${schema.maximum ?? ''}`);
  }
  if (schema.maxLength !== undefined) parts.push(`at most ${schema.maxLength} characters`);
  if (schema.default !== undefined) parts.push(`default ${code(JSON.stringify(schema.default))}`);
  return parts.join(', ');
}

function schemaOfContent(content: unknown): Json | undefined {
  return ((content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
}

function routeTable(entries: OperationEntry[]): string[] {
  const statuses = (operation: Json, success: boolean) =>
    Object.keys(operation.responses as Json)
      .filter((status) => Number(status) < 400 === success)
      .join(', ');
  return [
    '| method | path | operation | function | answers | refusals |',
    '| --- | --- | --- | --- | --- | --- |',
    ...entries.map(
      ({ method, path, operation }) =>
        `| ${method.toUpperCase()} | ${path} | [${code(String(operation.operationId))}](#${String(operation.operationId).toLowerCase()}) | ${code(String(operation['x-serverless-function']))} | ${statuses(operation, true)} | ${statuses(operation, false)} |`,
    ),
  ];
}

function exampleRequest({ method, path, operation }: OperationEntry): string[] {
  const parameters = (operation.parameters ?? []) as Json[];
  const examplesIn = (where: string) =>
    Object.fromEntries(parameters.filter((p) => p.in === where && p.example !== undefined).map((p) => [p.name, p.example]));
  const target = path.replace(/\{(\w+)\}/g, (_, name: string) => String(examplesIn('path')[name] ?? `{${name}}`));
  const query = new URLSearchParams(
    Object.entries(examplesIn('query')).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  const headers = Object.entries(examplesIn('header')).map(([name, value]) => `${name}: ${value}`);
  const body = ((operation.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as
    | Json
    | undefined;
  return [
    '```http',
    `${method.toUpperCase()} ${target}${query ? `?${query}` : ''}`,
    ...headers,
    ...(body?.example !== undefined ? ['Content-Type: application/json', '', JSON.stringify(body.example, null, 2)] : []),
    '```',
  ];
}

function operationSection(entry: OperationEntry): string[] {
  const { method, path, operation } = entry;
  const parameters = (operation.parameters ?? []) as Json[];
  const body = operation.requestBody as Json | undefined;
  const responses = operation.responses as Record<string, Json>;
  return [
    `### ${operation.operationId}`,
    '',
    `${code(`${method.toUpperCase()} ${path}`)}: ${operation.summary}.${operation.description ? ` ${operation.description}` : ''}`,
    '',
    ...(parameters.length
      ? [
          '| parameter | in | required | schema |',
          '| --- | --- | --- | --- |',
          ...parameters.map(
            (p) =>
              `| ${code(String(p.name))} | ${p.in} | ${p.required ? 'yes' : 'no'} | ${cell(describeSchema(p.schema as Json))} |`,
          ),
          '',
        ]
      : []),
    ...(body ? [`Body: ${describeSchema(schemaOfContent(body.content))}`, ''] : []),
    'Example:',
    '',
    ...exampleRequest(entry),
    '',
    '| status | body | when |',
    '| --- | --- | --- |',
    ...Object.entries(responses).map(
      ([status, response]) =>
        `| ${status} | ${cell(describeSchema(schemaOfContent(response.content)))} | ${cell(String(response.description))} |`,
    ),
    '',
  ];
}

function errorCodes(rows: ErrorCodeRow[]): string[] {
  return [
    '## Error codes',
    '',
    'The `error.code` of a refused request, the `reason` of a failed endpoint validation, and the `error.code` of a',
    'FAILED job (core/domain/error-codes.ts).',
    '',
    '| code | HTTP status | met in | meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${code(row.code)} | ${row.status ?? ''} | ${row.uses.map((use) => USE_NAMES[use] ?? use).join(', ')} | ${row.meaning} |`,
    ),
    '',
  ];
}

function sshSecurityPolicies({ default: fallback, policies }: SshPolicies): string[] {
  return [
    '## SSH security policies',
    '',
    `An SFTP endpoint's \`sftp.securityPolicy\` names the algorithms every connection to the partner may negotiate`,
    `(default \`${fallback}\`; an endpoint stored without one uses the default). Validation records what was`,
    'negotiated in `capabilities.negotiated` (`mac` is empty with an AEAD cipher: AES-GCM, ChaCha20-Poly1305), and fails',
    'with `NO_COMMON_ALGORITHM` when the partner supports nothing of one class, naming what it offered.',
    '',
    ...Object.entries(policies).flatMap(([name, { description, algorithms }]) => [
      `### ${name}`,
      '',
      description,
      '',
      '| algorithms | offered, in order of preference |',
      '| --- | --- |',
      ...ALGORITHM_CLASSES.map(([key, label]) => `| ${label} | ${(algorithms[key] ?? []).map(code).join(', ')} |`),
      '',
    ]),
  ];
}

/** A server, its URL template and what its variables may be. */
function serverLine(server: Json): string {
  const variables = Object.entries((server.variables ?? {}) as Record<string, Json>).map(([name, variable]) =>
    Array.isArray(variable.enum) ? `${code(name)}: ${variable.enum.map((v) => code(String(v))).join(' or ')}` : code(name),
  );
  return `- Server ${code(String(server.url))}: ${server.description}${variables.length ? `; variables ${variables.join(', ')}` : ''}.`;
}

export function renderApiMarkdown(document: Json): string {
  const info = document.info as Json;
  const entries = operationsOf(document);
  const schemes = (document.components as Json).securitySchemes as Record<string, Json>;
  const schemas = (document.components as Json).schemas as Record<string, Json>;
  return [
    '# eft REST API reference',
    '',
    '<!-- Generated by `npm run docs` (scripts/api-docs.ts) from docs/openapi.json, the OpenAPI document built from the schemas the handlers validate with (core/api). Do not edit. -->',
    '',
    String(info.description),
    '',
    `The contract is [openapi.json](openapi.json) (OpenAPI ${document.openapi}), for code generators and API tools;`,
    'this page is rendered from it.',
    '',
    ...(document.servers as Json[]).map(serverLine),
    ...Object.entries(schemes).map(
      ([name, scheme]) => `- Security scheme ${code(name)}, on every operation: ${scheme.description}.`,
    ),
    '- Errors: every refusal has the body [`ApiError`](#apierror); its `error.code` is one of the [error codes](#error-codes).',
    '',
    '## Operations',
    '',
    ...routeTable(entries),
    '',
    ...entries.flatMap(operationSection),
    ...errorCodes(document['x-eft-error-codes'] as ErrorCodeRow[]),
    ...sshSecurityPolicies(document['x-eft-ssh-security-policies'] as SshPolicies),
    '## Schemas',
    '',
    'Requests are the input side (defaults are filled in by the API); answers the output side.',
    '',
    ...Object.entries(schemas).flatMap(([name, schema]) => [
      `### ${name}`,
      '',
      '```json',
      JSON.stringify(schema, null, 2),
      '```',
      '',
    ]),
  ].join('\n');
}
