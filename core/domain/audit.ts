/** An append-only record of a change to an endpoint, a job, a route or a schedule (spec 8.10). */
export interface AuditEvent {
  subject: `endpoint#${string}` | `job#${string}` | `route#${string}` | `schedule#${string}`;
  customerId: string;
  actor: string;
  action: string;
  at: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  eventId: string;
}
