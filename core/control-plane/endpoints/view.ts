import type { Endpoint } from '../../domain/endpoint';
import { securityPolicyOf } from '../../domain/ssh-security-policies';

/**
 * What the API shows of an endpoint: everything but internal references (the
 * secret's ARN); an SFTP endpoint stored without a security policy shows the
 * one its connections use.
 */
export function toView(endpoint: Endpoint) {
  const { secretRef: _secretRef, customerId: _customerId, endpointId, validation, ...rest } = endpoint;
  const { settingsHash: _hash, ...lastValidation } = validation ?? { settingsHash: '' };
  const settings = 'sftp' in rest ? { sftp: { ...rest.sftp, securityPolicy: securityPolicyOf(rest.sftp) } } : {};
  return { id: endpointId, ...rest, ...settings, ...(validation ? { validation: lastValidation } : {}) };
}

export type EndpointView = ReturnType<typeof toView>;
