/**
 * Checks values against the OpenAPI document's own JSON Schemas (draft
 * 2020-12, what OpenAPI 3.1 uses) with ajv: what the contract tests use to
 * hold requests and real answers to the document, not to the zod schemas it
 * was built from.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { buildOpenApiDocument } from '../../core/api/openapi';
import type { Operation } from '../../core/api/operations';

const DOCUMENT_ID = 'https://eft.invalid/openapi.json';

type Json = Record<string, unknown>;

export class OpenApiContract {
  readonly document = JSON.parse(JSON.stringify(buildOpenApiDocument('test'))) as Json;
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...this.document, $id: DOCUMENT_ID });
  }

  /** The document's operation object of a registry entry. */
  operation(operation: Pick<Operation, 'path' | 'method'>): Json {
    const found = (this.document.paths as Record<string, Record<string, Json>>)[operation.path]?.[operation.method];
    if (!found) throw new Error(`the document has no ${operation.method} ${operation.path}`);
    return found;
  }

  /** The errors of `value` against the schema at `pointer` (a JSON pointer into the document), or [] if it conforms. */
  check(pointer: string, value: unknown): string[] {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
  }

  /** Checks an answer against the response schema the document gives for its status (which must be documented). */
  checkResponse(operation: Pick<Operation, 'path' | 'method'>, status: number, body: unknown): string[] {
    const responses = this.operation(operation).responses as Record<string, Json>;
    if (!responses[String(status)]) return [`status ${status} is not documented for ${operation.method} ${operation.path}`];
    return this.check(`${responsePointer(operation, status)}/content/application~1json/schema`, body);
  }

  /** The error codes the document lists for an operation's status. */
  errorCodes(operation: Pick<Operation, 'path' | 'method'>, status: number): string[] {
    const responses = this.operation(operation).responses as Record<string, Json>;
    return (responses[String(status)]?.['x-error-codes'] as string[] | undefined) ?? [];
  }
}

const pointerSegment = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

export function operationPointer(operation: Pick<Operation, 'path' | 'method'>): string {
  return `/paths/${pointerSegment(operation.path)}/${operation.method}`;
}

function responsePointer(operation: Pick<Operation, 'path' | 'method'>, status: number): string {
  return `${operationPointer(operation)}/responses/${status}`;
}
