/** What to do about an error code the API or a job reports: the command that fixes it, where there is one. */
export function hintFor(code: string | undefined, message = '', endpointId?: string): string | undefined {
  const endpoint = endpointId ?? /\bep_[0-9a-z]{26}\b/.exec(message)?.[0] ?? '<endpoint>';
  switch (code) {
    case 'HOST_KEY_UNCONFIRMED':
      return `confirm the partner's host key: eft endpoints validate ${endpoint}`;
    case 'HOST_KEY_MISMATCH':
      return `the partner offers another host key than the one pinned: check with the partner, then eft endpoints validate ${endpoint} --fingerprint SHA256:…`;
    case 'ENDPOINT_NOT_ACTIVE':
    case 'NOT_VALIDATED':
      return `validate the endpoint: eft endpoints validate ${endpoint}`;
    case 'AUTH_FAILED':
      return `rotate the endpoint's credentials: eft endpoints update ${endpoint} --password-file FILE (or --private-key-file FILE)`;
    case 'FORBIDDEN':
      return 'the AWS principal signing the request is not registered to a customer: ask your eft operator to register it';
    case 'TARGET_EXISTS':
      return 'eft never replaces a delivered file: clear the target, then eft jobs redrive <job>';
    default:
      return undefined;
  }
}
