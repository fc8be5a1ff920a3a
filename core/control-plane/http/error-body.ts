import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../domain/error-codes';

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/**
 * The body of every refused request (error-response.ts builds it with this
 * type): the code (core/domain/error-codes.ts), what was wrong, and for bad
 * input each bad field; a 500 quotes the request id for the operator.
 */
export const ApiErrorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(CODES),
      message: z.string(),
      fields: z
        .array(z.strictObject({ field: z.string(), message: z.string() }))
        .optional()
        .describe('400 VALIDATION_FAILED / MALFORMED_JSON: each bad field, e.g. source.path, query.limit'),
      requestId: z.string().optional().describe('500: the id to quote to the operator'),
    }),
  })
  .meta({ id: 'ApiError', description: 'A refused request' });

export type ApiErrorBody = z.output<typeof ApiErrorBodySchema>;
