import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * The UpdateItem parts of an optimistic-concurrency write (endpoints, routes,
 * schedules): every field given is SET, every field given as undefined is
 * REMOVEd, `updatedAt` is stamped and `version` incremented, all conditional
 * on the item existing (its `idAttribute`) at `expectedVersion`.
 */
export function versionedUpdate(
  changes: Iterable<[string, unknown]>,
  options: { idAttribute: string; expectedVersion: number; now: string },
) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':now': options.now, ':expected': options.expectedVersion, ':one': 1 };
  const sets = ['updatedAt = :now', 'version = version + :one'];
  const removes: string[] = [];
  [...changes].forEach(([field, value], i) => {
    names[`#f${i}`] = field;
    if (value === undefined) {
      removes.push(`#f${i}`);
    } else {
      sets.push(`#f${i} = :v${i}`);
      values[`:v${i}`] = value;
    }
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: `attribute_exists(${options.idAttribute}) AND version = :expected`,
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
  };
}
