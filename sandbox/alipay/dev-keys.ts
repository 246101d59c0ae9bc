// Development keys for Alipay against our emulator: the merchant app's RSA2 key pair and a stand-in for Alipay's
// own, made once under a directory (private halves mode 0600) and reused after, so a restarted stack keeps verifying
// what it signed before. Answers the variables that configure both the adapter and the emulator.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** A sandbox app id and pid (Alipay's formats: 16 digits; 2088 + 12 digits). Not real accounts. */
export const DEV_APP_ID = '9021000000000001';
export const DEV_SELLER_ID = '2088000000000001';

const FILES = {
  appPrivate: 'alipay-app-private.pem',
  appPublic: 'alipay-app-public.pem',
  platformPrivate: 'alipay-platform-private.pem',
  platformPublic: 'alipay-platform-public.pem',
};

/**
 * The private key, made once: written under a temporary name and linked into place only if no key is there yet, so
 * two processes starting at once agree on the first one's key. The public half is always derived from it, so a
 * crash or a race can never leave a pair that does not match.
 */
function ensurePair(dir: string, privateName: string, publicName: string): void {
  const privatePath = join(dir, privateName);
  if (!existsSync(privatePath)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const tmp = `${privatePath}.${process.pid}.tmp`;
    writeFileSync(tmp, String(privateKey.export({ type: 'pkcs8', format: 'pem' })), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    try {
      linkSync(tmp, privatePath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first: use theirs
    } finally {
      unlinkSync(tmp);
    }
  }
  const publicPem = String(createPublicKey(readFileSync(privatePath, 'utf8')).export({ type: 'spki', format: 'pem' }));
  const publicPath = join(dir, publicName);
  if (!existsSync(publicPath) || readFileSync(publicPath, 'utf8') !== publicPem) {
    const tmp = `${publicPath}.${process.pid}.tmp`;
    writeFileSync(tmp, publicPem, { mode: 0o644 });
    renameSync(tmp, publicPath);
  }
}

/**
 * Makes (once) the two key pairs under `dir` and answers the variables for the adapter (ALIPAY_*) and the emulator
 * (ALIPAY_EMULATOR_*), Alipay enabled, its gateway the emulator on `port` (default 3102).
 */
export function ensureAlipayDevKeys(dir: string, options: { port?: number } = {}): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  ensurePair(dir, FILES.appPrivate, FILES.appPublic);
  ensurePair(dir, FILES.platformPrivate, FILES.platformPublic);
  const port = options.port ?? 3102;
  return {
    ALIPAY_ENABLED: 'true',
    // The emulator serves a day's bill as the day goes (Alipay's is out the next morning).
    ALIPAY_BILL_DELAY: '0',
    ALIPAY_GATEWAY: `http://localhost:${port}/gateway.do`,
    ALIPAY_APP_ID: DEV_APP_ID,
    ALIPAY_SELLER_ID: DEV_SELLER_ID,
    ALIPAY_APP_PRIVATE_KEY_FILE: join(dir, FILES.appPrivate),
    ALIPAY_PUBLIC_KEY_FILE: join(dir, FILES.platformPublic),
    ALIPAY_EMULATOR_PORT: String(port),
    ALIPAY_EMULATOR_PRIVATE_KEY_FILE: join(dir, FILES.platformPrivate),
    ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE: join(dir, FILES.appPublic),
  };
}
