import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ValidationError } from '../../domain/errors';

/** The secret that authenticates cursors (the stack's cursor key), read when first needed. */
export type CursorKeySource = () => Promise<string>;

/** What a cursor is bound to: the customer it was issued to, and the listing (table, index and filter) it continues. */
export interface CursorScope {
  customerId: string;
  listing: string;
}

const VERSION = 'eft-cursor-v1';
/** base64url(the key as JSON) "." base64url(HMAC-SHA256): 43 characters for 32 bytes. */
const CURSOR_SHAPE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;

function refused(): ValidationError {
  return new ValidationError([{ field: 'cursor', message: 'is not a cursor this API issued' }]);
}

/**
 * List cursors: DynamoDB's LastEvaluatedKey, opaque to clients and
 * authenticated with HMAC-SHA256 under a key the stack holds (a secret shared
 * by both regions, so a cursor from one region pages on in the other). The MAC
 * covers the customer and the listing, so a cursor works only for the customer
 * and the query it was issued for, and nothing but a key DynamoDB itself
 * returned ever reaches it as an ExclusiveStartKey: a forged or altered cursor
 * is a 400 naming `cursor`, never a key of the wrong shape failing in DynamoDB (a 500).
 */
export class CursorCodec {
  private key: Promise<Buffer> | undefined;

  constructor(private readonly keySource: CursorKeySource) {}

  /**
   * For a store used without the stack's key (a test of the store alone): a
   * random key, so its cursors are good in this process only.
   */
  static forThisProcessOnly(): CursorCodec {
    const key = randomBytes(32).toString('base64url');
    return new CursorCodec(async () => key);
  }

  async encode(scope: CursorScope, lastKey: Record<string, AttributeValue> | undefined): Promise<string | undefined> {
    if (!lastKey) return undefined;
    const payload = Buffer.from(JSON.stringify(lastKey)).toString('base64url');
    return `${payload}.${(await this.mac(scope, payload)).toString('base64url')}`;
  }

  /** The ExclusiveStartKey a cursor stands for; a 400 naming `cursor` for anything this API did not issue for `scope`. */
  async decode(scope: CursorScope, cursor: string | undefined): Promise<Record<string, AttributeValue> | undefined> {
    if (!cursor) return undefined;
    const [, payload = '', mac = ''] = CURSOR_SHAPE.exec(cursor) ?? [];
    if (!payload) throw refused();
    // Compared as text: base64url has several spellings of one byte string, and only the one issued is accepted.
    const expected = (await this.mac(scope, payload)).toString('base64url');
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) throw refused();
    const lastKey = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, AttributeValue>;
    // Bound by the MAC already; checked again so a mistake in a scope can never page through another customer's items.
    if (lastKey.customerId?.S !== scope.customerId) throw refused();
    return lastKey;
  }

  private async mac(scope: CursorScope, payload: string): Promise<Buffer> {
    // A JSON array, so no customer id or listing can be spelled to collide with another's.
    return createHmac('sha256', await this.secret())
      .update(JSON.stringify([VERSION, scope.customerId, scope.listing, payload]))
      .digest();
  }

  /** Read once per container; a failed read is not remembered, so the next request tries again. */
  private secret(): Promise<Buffer> {
    this.key ??= this.readSecret().catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }

  private async readSecret(): Promise<Buffer> {
    let text: string;
    try {
      text = await this.keySource();
    } catch (error) {
      throw new Error('the cursor key secret could not be read', { cause: error });
    }
    if (text.length < 32) throw new Error('the cursor key secret is shorter than 32 characters');
    return Buffer.from(text, 'utf8');
  }
}
