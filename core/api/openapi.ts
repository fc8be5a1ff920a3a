/**
 * The OpenAPI 3.1 document of the REST API, built from the operation registry
 * (./operations.ts) with zod-openapi: the request schemas the handlers validate
 * with, the response schemas the view functions are typed by, every error code.
 * `npm run docs` writes it to docs/openapi.json and renders docs/api.md from it.
 */
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { ApiErrorBodySchema } from '../control-plane/http/error-body';
import { ERROR_CODES, type ErrorCode } from '../domain/error-codes';
import { DEFAULT_SSH_SECURITY_POLICY, SSH_SECURITY_POLICIES } from '../domain/ssh-security-policies';
import { COMMON_ERRORS, IDEMPOTENCY_KEY_HEADER, OPERATIONS, type Operation } from './operations';
import { GatewayErrorSchema } from './schemas';

export const REGIONS = ['us-gov-west-1', 'us-gov-east-1'] as const;

const DESCRIPTION = [
  'Every request is signed with AWS Signature Version 4 (service `execute-api`, the region of the API) and runs as the',
  'customer that the signing principal is registered to. Bad input gets a 400 whose `error.fields` name each bad field;',
  'another customer’s resources answer 404, like missing ones. A request API Gateway refuses before any handler runs',
  '(no valid signature) gets its own `{"message": "..."}` body.',
].join('\n');

/** The codes an operation can refuse with, by HTTP status. */
export function errorCodesByStatus(operation: Operation): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...COMMON_ERRORS, ...operation.errors])) {
    const status: number | undefined = ERROR_CODES[code].status;
    if (status === undefined) throw new Error(`${code} is not a request error (it has no HTTP status)`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus.entries()].sort(([a], [b]) => a - b));
}

function errorResponses(operation: Operation) {
  return Object.fromEntries(
    [...errorCodesByStatus(operation)].map(([status, codes]) => {
      const list = codes.map((code) => `\`${code}\``).join(', ');
      const schema = status === 403 ? z.union([ApiErrorBodySchema, GatewayErrorSchema]) : ApiErrorBodySchema;
      return [
        String(status),
        {
          description: status === 403 ? `${list}; or API Gateway’s refusal of the signature` : list,
          'x-error-codes': codes,
          content: { 'application/json': { schema } },
          ...(codes.includes('PARTNER_BUSY')
            ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' as const } } } }
            : {}),
        },
      ];
    }),
  );
}

function operationObject(operation: Operation): ZodOpenApiOperationObject {
  const { example } = operation;
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: [operation.tag],
    'x-serverless-function': operation.functionName,
    requestParams: {
      ...(operation.pathParams ? { path: operation.pathParams } : {}),
      ...(operation.query ? { query: operation.query } : {}),
      ...(operation.idempotencyKey ? { header: z.object({ 'Idempotency-Key': IDEMPOTENCY_KEY_HEADER }) } : {}),
    },
    ...(operation.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: operation.body, example: example.body } },
          },
        }
      : {}),
    responses: {
      ...Object.fromEntries(
        Object.entries(operation.responses).map(([status, { description, schema }]) => [
          status,
          { description, content: { 'application/json': { schema } } },
        ]),
      ),
      ...errorResponses(operation),
    },
  };
}

/** Parameters get their example values from the operation's example request. */
function withParameterExamples(document: ReturnType<typeof createDocument>) {
  for (const operation of OPERATIONS) {
    const generated = document.paths?.[operation.path]?.[operation.method];
    const values: Record<string, Record<string, unknown> | undefined> = {
      path: operation.example.path,
      query: operation.example.query,
      header: operation.example.headers,
    };
    for (const parameter of generated?.parameters ?? []) {
      if (!('in' in parameter)) continue;
      const value = values[parameter.in]?.[parameter.name];
      if (value !== undefined) parameter.example = value;
    }
  }
  return document;
}

/**
 * What the schemas name but cannot explain, as extensions of the document (so
 * docs/api.md is rendered from the document alone): every error code with its
 * status and meaning (core/domain/error-codes.ts), and the algorithms of each
 * SSH security policy an SFTP endpoint may name (core/domain/ssh-security-policies.ts).
 */
function registries() {
  return {
    'x-eft-error-codes': Object.entries(ERROR_CODES).map(([code, entry]) => ({ code, ...entry })),
    'x-eft-ssh-security-policies': {
      default: DEFAULT_SSH_SECURITY_POLICY,
      policies: SSH_SECURITY_POLICIES,
    },
  };
}

/**
 * Leaves out what zod spells out and a reader (or generator) gains nothing from:
 * the regular expression beside `format: date-time`, and an integer's bounds
 * when they are only JavaScript's safe-integer range.
 */
function tidy({ jsonSchema }: { jsonSchema: Record<string, unknown> }): void {
  if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}

export function buildOpenApiDocument(version: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const operation of OPERATIONS) {
    paths[operation.path] = { ...paths[operation.path], [operation.method]: operationObject(operation) };
  }
  const document = createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'eft',
        version,
        description: DESCRIPTION,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [
        {
          url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}',
          description: 'a region’s API; both regions serve the same customers and data',
          variables: {
            restApiId: { default: 'abcde12345', description: 'The REST API’s id in that region (the stack’s output)' },
            region: { default: REGIONS[0], enum: [...REGIONS] },
            stage: { default: 'dev', description: 'The stage deployed (`--stage`)' },
          },
        },
        {
          url: 'http://127.0.0.1:{port}',
          description: 'the local engine (`npm start`), each region’s API on its own port (`apis` in .eft/local.json)',
          variables: { port: { default: '8080', description: 'The region’s API port' } },
        },
      ],
      security: [{ sigv4: [] }],
      tags: [
        { name: 'Endpoints', description: 'Where files come from and go to: SFTP servers and S3 buckets' },
        { name: 'Transfers', description: 'Requests to transfer a file or a folder’s files' },
        { name: 'Jobs', description: 'One file’s transfer each: state, progress, cancel, re-drive' },
        { name: 'Routes', description: 'Objects created in an S3 endpoint’s folder delivered to a target' },
        { name: 'Schedules', description: 'A partner’s SFTP folder polled and new files pulled' },
        { name: 'Webhooks', description: 'Job events posted to your HTTPS endpoint' },
        { name: 'Egress', description: 'The addresses a partner allow-lists' },
      ],
      paths,
      components: {
        securitySchemes: {
          sigv4: {
            type: 'apiKey',
            name: 'Authorization',
            in: 'header',
            description: 'AWS Signature Version 4 (service `execute-api`), as the AWS SDKs and `curl --aws-sigv4` sign',
            'x-amazon-apigateway-authtype': 'awsSigv4',
          },
        },
      },
    },
    { override: tidy },
  );
  return withParameterExamples({ ...document, ...registries() });
}
