import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ValidationError } from '../../domain/errors';

/** Cursors are DynamoDB's LastEvaluatedKey, base64url-encoded and bound to the customer. */
export function encodeCursor(key: Record<string, AttributeValue> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined, customerId: string): Record<string, AttributeValue> | undefined {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, AttributeValue>;
    // A cursor is only valid for the customer it was issued to.
    if (key.customerId?.S !== customerId) throw new Error('foreign cursor');
    return key;
  } catch {
    throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this API issued' }]);
  }
}
