import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorCodesByStatus } from '../../core/api/openapi';
import { IDEMPOTENCY_KEY_HEADER, OPERATIONS } from '../../core/api/operations';
import { ERROR_CODES } from '../../core/domain/error-codes';
import { loadServiceConfig, PROJECT_ROOT } from '../../local/service-config';
import { OpenApiContract, operationPointer } from '../support/openapi-contract';

const contract = new OpenApiContract();
const VALIDATOR_CLI = join(PROJECT_ROOT, 'node_modules', '@seriousme', 'openapi-schema-validator', 'bin', 'validate-api-cli.js');

/**
 * The validator is ESM-only (jest here runs CommonJS): its own CLI, run by this
 * Node, judges the document written to a file. Exit 0 and `valid: true`, or its errors.
 */
async function validateWithCli(document: unknown): Promise<{ valid: boolean; errors?: unknown[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'eft-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    const output = await promisify(execFile)(process.execPath, [VALIDATOR_CLI, file]).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string }) => error.stdout ?? '',
    );
    return JSON.parse(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Request codes no operation answers with, and why. */
const UNMET: Record<string, string> = {
  UNAUTHORIZED: 'API Gateway refuses an unsigned request before any handler runs (GatewayError)',
  CONFLICT: 'the default of ConflictError: every conflict a handler raises names its own code',
};

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    expect(contract.document.openapi).toBe('3.1.0');
    expect(await validateWithCli(contract.document)).toEqual({ valid: true });
  }, 30_000);

  it('is judged by a validator that refuses a broken document', async () => {
    const broken = { ...contract.document, info: { version: '1' } };
    expect((await validateWithCli(broken)).valid).toBe(false);
  }, 30_000);

  it('holds values to its schemas: a request with an unknown field, an answer missing one, are refused', () => {
    const create = OPERATIONS.find((o) => o.operationId === 'createTransfer');
    if (!create) throw new Error('no createTransfer');
    const body = `${operationPointer(create)}/requestBody/content/application~1json/schema`;
    expect(contract.check(body, { ...(create.example.body as object), extra: 1 })).not.toEqual([]);
    expect(contract.checkResponse(create, 201, { requestId: 'req_x', jobs: [] })).not.toEqual([]);
    expect(contract.checkResponse(create, 202, {})).toEqual([expect.stringContaining('not documented')]);
  });

  it('has exactly one operation for every http route of serverless.yml, and no other', async () => {
    const config = await loadServiceConfig('west');
    const routes = Object.entries(config.functions).flatMap(([name, fn]) =>
      (fn.events ?? [])
        .map((event) => event.http as { method: string; path: string } | undefined)
        .filter((http) => http !== undefined)
        .map((http) => `${http.method.toLowerCase()} /${http.path.replace(/^\//, '')} ${name}`),
    );
    const operations = OPERATIONS.map((o) => `${o.method} ${o.path} ${o.functionName}`);
    expect(new Set(operations).size).toBe(operations.length);
    expect([...operations].sort()).toEqual([...routes].sort());
    expect(routes).toHaveLength(27);
    const documented = Object.entries(contract.document.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) => Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(OPERATIONS.map((o) => `${o.method} ${o.path}`).sort());
    expect(new Set(OPERATIONS.map((o) => o.operationId)).size).toBe(OPERATIONS.length);
  });

  it('signs every operation with SigV4, as API Gateway documents it', () => {
    expect(contract.document.security).toEqual([{ sigv4: [] }]);
    expect((contract.document.components as { securitySchemes: unknown }).securitySchemes).toEqual({
      sigv4: expect.objectContaining({
        type: 'apiKey',
        name: 'Authorization',
        in: 'header',
        'x-amazon-apigateway-authtype': 'awsSigv4',
      }),
    });
  });

  it('names every request error code under some operation, with its HTTP status', () => {
    const named = new Set(OPERATIONS.flatMap((o) => [...errorCodesByStatus(o).values()].flat()));
    const requestCodes = Object.entries(ERROR_CODES).filter(([, entry]) => (entry.uses as readonly string[]).includes('request'));
    for (const [code, entry] of requestCodes) {
      if (code in UNMET) continue;
      expect(named).toContain(code);
      const operation = OPERATIONS.find((o) =>
        errorCodesByStatus(o)
          .get(entry.status ?? 0)
          ?.includes(code as never),
      );
      expect(operation && contract.errorCodes(operation, entry.status ?? 0)).toContain(code);
    }
  });
});

describe.each(OPERATIONS.map((o) => [o.operationId, o] as const))('the example request of %s', (_, operation) => {
  const parameters = (contract.operation(operation).parameters ?? []) as { in: string; name: string; required?: boolean }[];

  it('fills every path parameter of the route, and only those', () => {
    const inPath = [...operation.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    expect(Object.keys(operation.example.path ?? {}).sort()).toEqual(inPath.sort());
    expect(
      parameters
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort(),
    ).toEqual(inPath.sort());
  });

  it('conforms to the document (ajv, JSON Schema 2020-12)', () => {
    const sources = { path: operation.example.path, query: operation.example.query, header: operation.example.headers };
    parameters.forEach((parameter, index) => {
      const value = sources[parameter.in as keyof typeof sources]?.[parameter.name];
      if (value === undefined) {
        expect(parameter.required).not.toBe(true);
        return;
      }
      expect(contract.check(`${operationPointer(operation)}/parameters/${index}/schema`, value)).toEqual([]);
    });
    for (const [where, values] of Object.entries(sources)) {
      for (const name of Object.keys(values ?? {})) {
        expect(parameters.some((p) => p.in === where && p.name === name)).toBe(true);
      }
    }
    if (operation.body) {
      expect(
        contract.check(`${operationPointer(operation)}/requestBody/content/application~1json/schema`, operation.example.body),
      ).toEqual([]);
    } else {
      expect(operation.example.body).toBeUndefined();
    }
  });

  it('parses with the zod schemas the handler validates with', () => {
    if (operation.pathParams) expect(operation.pathParams.safeParse(operation.example.path).error).toBeUndefined();
    if (operation.query) expect(operation.query.safeParse(operation.example.query ?? {}).error).toBeUndefined();
    if (operation.body) {
      const parsed = operation.body.safeParse(operation.example.body);
      expect(parsed.error).toBeUndefined();
      // Round trip: what the handler gets (defaults filled in) is still a request the document accepts.
      expect(contract.check(`${operationPointer(operation)}/requestBody/content/application~1json/schema`, parsed.data)).toEqual(
        [],
      );
    }
    const key = operation.example.headers?.['Idempotency-Key'];
    expect(key !== undefined).toBe(operation.idempotencyKey === true);
    expect(IDEMPOTENCY_KEY_HEADER.safeParse(key).success).toBe(true);
  });

  it('shows its example in the document', () => {
    const body = (contract.operation(operation).requestBody as { content: Record<string, { example?: unknown }> } | undefined)
      ?.content['application/json']?.example;
    expect(body).toEqual(operation.example.body);
  });
});
