// `npm run temporal -- <temporal CLI arguments>`: the Temporal CLI that scripts/bootstrap.mjs installed (on PATH, or
// in .venv/bin), pointed at the server this project is configured for. The bare `temporal` knows nothing of
// TEMPORAL_PORT or a moved namespace and would silently talk to localhost:7233; this adds --address, --namespace and
// the TLS / API key flags from config/index.ts to every command that talks to a server (an explicit flag wins). Unless
// PAYLOAD_ENCRYPTION=off, it also points the CLI at our API's codec server (API_PUBLIC_URL/codec) with the admin key as
// its Authorization (through TEMPORAL_CODEC_AUTH, so it does not show in `ps`): `workflow show` and `workflow query`
// print what the workflow saw, not ciphertext, and the operator's machine holds no payload key. (The API must be
// running for that; with it down, pass --codec-endpoint '' to see the payloads as stored.)
import { spawn } from 'node:child_process';
import { type TemporalConfig, loadConfigOrExit } from '../config';
import { readToolchain } from './stack/toolchain';

/** The CLI's command groups that talk to a Temporal frontend and take the client connection flags. */
const CLIENT_COMMANDS = new Set(['workflow', 'activity', 'batch', 'schedule', 'task-queue', 'operator', 'worker']);

/** The arguments to run: the user's, plus the connection flags they did not give themselves. */
export function temporalCliArgs(config: TemporalConfig, args: string[], codec?: { endpoint: string }): string[] {
  if (!CLIENT_COMMANDS.has(args[0] ?? '')) return args;
  const given = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const extra: string[] = [];
  if (!given('--address')) extra.push('--address', config.address);
  if (!given('--namespace') && !given('-n')) extra.push('--namespace', config.namespace);
  if (config.tls && !given('--tls')) {
    extra.push('--tls');
    if (config.tls.clientCertPath && !given('--tls-cert-path')) {
      extra.push('--tls-cert-path', config.tls.clientCertPath);
    }
    if (config.tls.clientKeyPath && !given('--tls-key-path')) extra.push('--tls-key-path', config.tls.clientKeyPath);
  }
  if (codec && !given('--codec-endpoint') && !process.env.TEMPORAL_CODEC_ENDPOINT) {
    extra.push('--codec-endpoint', codec.endpoint);
  }
  return [...args, ...extra];
}

function main(): void {
  const config = loadConfigOrExit();
  let binary: string;
  try {
    binary = readToolchain().temporalCli;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  const encrypted = config.payloadEncryption.mode !== 'off';
  const args = temporalCliArgs(
    config.temporal,
    process.argv.slice(2),
    encrypted ? { endpoint: `${config.api.publicUrl}/codec` } : undefined,
  );
  const env = { ...process.env };
  if (encrypted && !env.TEMPORAL_CODEC_AUTH) env.TEMPORAL_CODEC_AUTH = `Bearer ${config.api.adminApiKey}`;
  // The API key goes through the environment (the CLI reads TEMPORAL_API_KEY), so it does not show in `ps`.
  if (config.temporal.apiKey) env.TEMPORAL_API_KEY = config.temporal.apiKey;
  const child = spawn(binary, args, { stdio: 'inherit', env });
  child.on('error', (err) => {
    process.stderr.write(`could not run ${binary}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main();
