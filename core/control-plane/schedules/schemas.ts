import { z } from 'zod';
import { ValidationError } from '../../domain/errors';
import type { PollRequest } from '../../domain/schedule-polls';
import { parseTaskInput } from '../tasks/task';

/** The body of a schedule polls queue message, as the tick sends it. */
export const PollRequestSchema = z.object({
  customerId: z.string().min(1),
  scheduleId: z.string().min(1),
  pollId: z.string().min(1),
  dueAt: z.string().min(1),
}) satisfies z.ZodType<PollRequest>;

/** A message that is not a poll: a ValidationError naming the bad fields (it fails, and ends in the DLQ after 5 receives). */
export function parsePollRequest(body: string): PollRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ValidationError([{ field: 'body', message: 'is not JSON' }]);
  }
  return parseTaskInput(PollRequestSchema, json, 'body');
}
