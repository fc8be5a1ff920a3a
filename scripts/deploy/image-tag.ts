/**
 * The worker image's tag: the commit and the build time, <12 hex digits of the sha>-<yyyymmddThhmmssZ>,
 * with -dirty when the checkout has uncommitted changes. Unique per build (the repository's tags are
 * immutable, so a second build of one commit needs a tag of its own) and says what it was built from.
 */
export function imageTag(sha: string, at: Date, dirty: boolean): string {
  if (!/^[0-9a-f]{12,40}$/.test(sha)) throw new Error(`not a commit sha: ${sha}`);
  const time = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${sha.slice(0, 12)}-${time}${dirty ? '-dirty' : ''}`;
}
