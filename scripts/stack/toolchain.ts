// What scripts/bootstrap.mjs found or installed (Temporal executables, PostgreSQL binaries, Chromium, Schemathesis,
// promtool...).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Toolchain {
  temporalCli: string;
  temporalTestServer: string | null;
  pgBinDir: string | null;
  /** Chromium for the browser tests (test mode only). */
  chromium?: string | null;
  /** Schemathesis's `st` for the API fuzzing test (test mode only). */
  schemathesis?: string | null;
  /** Source directory of the WeChat Pay Go SDK module (test mode only): its notification test vector. */
  wechatpayGoSdk?: string | null;
  /** The Go toolchain (test mode only): builds the WeChat Pay cross-check driver over the vendor's SDK. */
  go?: string | null;
  /** The Python that has localstripe (the Stripe channel's test double; both modes): runs localstripe_main.py. */
  localstripe?: string | null;
  /** stripe-mock (test mode only): checks the Stripe adapter's requests against Stripe's OpenAPI spec. */
  stripeMock?: string | null;
  /** promtool (test mode only): checks and unit-tests the Prometheus alert rules (observability/prometheus/). */
  promtool?: string | null;
  /** Temporal server v1.32.2 (cluster mode only): one binary, each service a process of its own. */
  temporalServer?: string | null;
  /** Its SQL schema tool (cluster mode only): creates the databases and applies the versioned schemas. */
  temporalSqlTool?: string | null;
  /** The Temporal Web UI server (cluster mode only), pointed at the cluster's frontend. */
  temporalUiServer?: string | null;
  /** The server's PostgreSQL v12 schema directories (cluster mode only), from its module source. */
  temporalSchema?: { temporal: string; visibility: string } | null;
}

export const projectRoot = join(__dirname, '..', '..');

export function readToolchain(): Toolchain {
  const file = join(projectRoot, '.data', 'toolchain.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run through npm start / npm test, which run scripts/bootstrap.mjs first`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Toolchain;
}
