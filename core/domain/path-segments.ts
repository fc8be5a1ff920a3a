/**
 * Whether a path has a segment that a server may read as "this folder" or "the
 * parent": `.` and `..`, and any other run of dots and spaces (`...`, `.. `),
 * which Windows servers reduce to one of those by dropping a name's trailing
 * dots and spaces. Segments are separated by `/` or by `\`: Windows SFTP
 * servers take either, so `..\..\etc` climbs there as `../../etc` does anywhere.
 */
export function hasDotSegment(path: string): boolean {
  return path.split(/[/\\]/).some((segment) => /^[. ]*\.[. ]*$/.test(segment));
}

export const DOT_SEGMENT_MESSAGE = 'must not contain . or .. segments (with / or \\ as the separator)';
