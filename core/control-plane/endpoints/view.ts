import type { Endpoint } from '../../domain/endpoint';

/** What the API shows of an endpoint: everything but internal references (the secret's ARN). */
export function toView(endpoint: Endpoint) {
  const { secretRef: _secretRef, customerId: _customerId, endpointId, validation, ...rest } = endpoint;
  const { settingsHash: _hash, ...lastValidation } = validation ?? { settingsHash: '' };
  return { id: endpointId, ...rest, ...(validation ? { validation: lastValidation } : {}) };
}

export type EndpointView = ReturnType<typeof toView>;
