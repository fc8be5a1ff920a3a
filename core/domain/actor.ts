/**
 * Who acts for a customer: whose endpoints and jobs it may see and change, and
 * who is recorded as the actor of every change it makes. Today every actor is an
 * API caller, an IAM principal the operators registered to the customer
 * (core/control-plane/http/identity.ts resolves it); transfers started by an S3 event route or
 * a schedule will act for their customer too, with their own origin recorded.
 */
export interface Actor {
  customerId: string;
  /** The authenticated principal, recorded as the actor of every change. */
  principalArn: string;
}
