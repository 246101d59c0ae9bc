// The key that signs the worker's notifications to the order service, for a stack on this machine (`npm start`, the
// chaos run, the benchmark): made once, random, under the data directory's keys/, and handed to every process of the
// stack, so the worker and the order service agree and the built-in development key is not what guards the demo.
// A user's own ORDER_NOTIFY_SIGNING_KEYS is left as it is.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function orderNotifyDevKeys(keysDir: string, env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.ORDER_NOTIFY_SIGNING_KEYS) return {};
  const file = join(keysDir, 'order-notify.key');
  if (!existsSync(file)) {
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `local:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return { ORDER_NOTIFY_SIGNING_KEYS: readFileSync(file, 'utf8').trim() };
}
