/**
 * The data-plane half of an endpoint driver (see ../drivers.ts): how the worker
 * reads a file from an endpoint and writes one to it. PLACEHOLDER: the data
 * plane refactor defines FileSource and FileTarget here.
 */
import type { Endpoint } from '../endpoint';
import type { Location } from '../location';

export interface DataPlaneDriver {
  /** Keeps what is written durably (object storage): a copy between two endpoints that are not is staged through one. */
  readonly durable: boolean;
  openSource?(endpoint: Endpoint, location: Location): unknown;
  openTarget?(endpoint: Endpoint, location: Location): unknown;
}
