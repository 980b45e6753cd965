import { readFileSync, writeFileSync } from 'node:fs';
import type { GraphSimulator } from './index';

/**
 * The app settings that point the service at a running simulator, shared by `npm start`, the tests
 * and the benchmarks so they cannot drift apart.
 */
export function simulatorSettings(sim: GraphSimulator, caBundlePath: string): Record<string, string> {
  return {
    GRAPH_TENANT_ID: sim.tenantId,
    GRAPH_CLIENT_ID: sim.clientId,
    GRAPH_CLIENT_SECRET: sim.clientSecret,
    GRAPH_BASE_URL: sim.graphBaseUrl,
    GRAPH_AUTHORITY_HOST: sim.authorityHost,
    NODE_EXTRA_CA_CERTS: caBundlePath,
  };
}

/**
 * Writes a CA bundle that trusts the simulator on top of what NODE_EXTRA_CA_CERTS already names
 * (some machines set it for their own proxies), and answers its path.
 */
export function writeTrustBundle(path: string, sim: Pick<GraphSimulator, 'ca'>, existing: string | undefined): string {
  writeFileSync(path, `${readablePem(existing)}${sim.ca}`);
  return path;
}

function readablePem(path: string | undefined): string {
  if (!path) return '';
  try {
    const pem = readFileSync(path, 'utf8');
    return pem.endsWith('\n') ? pem : `${pem}\n`;
  } catch {
    return '';
  }
}
