// A WeChat Pay v3 notification as the platform sends it (signed headers, encrypted resource), for the tests of our
// verifier and of the vendor SDK's verdict on what we make.
import { execFile, execFileSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { projectRoot, readToolchain } from '../../scripts/stack/toolchain';
import { encryptResource, signResponse } from '../../channels/wechatpay/crypto';

export interface NotificationOptions {
  privateKey: KeyObject;
  serial: string;
  apiV3Key: string;
  /** The decrypted resource: a transaction. */
  transaction: object;
  /** When it was signed, ms since the epoch; default now. */
  at?: number;
  nonce?: string;
  /** The notification's id (what duplicates share); default a fixed one. */
  id?: string;
}

export function platformNotification(options: NotificationOptions): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    id: options.id ?? 'EV-2026112712000001',
    create_time: '2026-11-27T12:00:01+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      ...encryptResource(JSON.stringify(options.transaction), options.apiV3Key),
    },
  });
  const timestamp = String(Math.floor((options.at ?? Date.now()) / 1000));
  const nonce = options.nonce ?? 'f3b2a1c0d9e8';
  return {
    body,
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-serial': options.serial,
      'wechatpay-signature': signResponse(options.privateKey, timestamp, nonce, body),
    },
  };
}

/** Builds our Go driver over the vendor's SDK (test/crosscheck/wechatpay) into `dir`, with the project's Go caches. */
export function buildCrosscheckDriver(dir: string): string {
  const go = readToolchain().go;
  if (!go) throw new Error('no Go toolchain recorded: run through npm test (scripts/bootstrap.mjs test)');
  const driver = join(dir, 'crosscheck');
  execFileSync(go, ['build', '-o', driver, '.'], {
    cwd: join(projectRoot, 'test', 'crosscheck', 'wechatpay'),
    env: {
      ...process.env,
      GOPATH: join(projectRoot, '.data', 'go'),
      GOMODCACHE: join(projectRoot, '.data', 'go', 'pkg', 'mod'),
      GOFLAGS: '-modcacherw',
      GOTOOLCHAIN: 'local',
    },
    stdio: 'pipe',
  });
  return driver;
}

/**
 * One request to the driver, without blocking the event loop (an emulator in this process must keep answering it).
 */
export function runCrosscheckDriver<T>(driver: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile(driver, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the cross-check driver failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as T);
    });
    child.stdin!.end(JSON.stringify(request));
  });
}
