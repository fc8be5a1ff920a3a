/** Where a transfer path lands on an endpoint (core/control-plane/transfers/locations.ts resolves it). */
export type Location =
  | { kind: 's3'; bucket: string; key: string; region: string; kmsKeyId?: string; owner: string }
  | { kind: 'sftp'; path: string };
