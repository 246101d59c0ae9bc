// Connection options for Temporal, from configuration: a local dev server, a self-hosted cluster with mTLS, or
// Temporal Cloud with an API key. The same options serve the client (API) and the worker's native connection.
import { readFileSync } from 'node:fs';
import type { TemporalConfig } from './index';

export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

export function temporalConnectionOptions(config: TemporalConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.address };
  if (config.tls) {
    const { clientCertPath, clientKeyPath } = config.tls;
    options.tls =
      clientCertPath && clientKeyPath
        ? { clientCertPair: { crt: readFileSync(clientCertPath), key: readFileSync(clientKeyPath) } }
        : true;
  }
  if (config.apiKey) options.apiKey = config.apiKey;
  return options;
}
