// The connectivity errors are the domain's (core/domain/connectivity-errors.ts). This re-export
// remains only for core/data-plane/errors.ts, which imports them from here; delete it once that import moves.
export * from '../domain/connectivity-errors';
