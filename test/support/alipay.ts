// Alipay's emulator in a test process: development keys under a temporary directory, the emulator on a free
// 127.0.0.1 port, and the variables that point our adapter at it (the same ones `npm start` would use). As a Stack
// channel double it keeps its wallet in the stack's database (as `npm start` does); alone, in memory unless given one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { loadConfig } from '../../config';
import { createAlipayEmulator, type AlipayEmulator } from '../../sandbox/alipay/emulator';
import { ensureAlipayDevKeys } from '../../sandbox/alipay/dev-keys';
import type { WalletFaults } from '../../sandbox/wallet';
import { WalletStore } from '../../sandbox/wallet-store';
import { freePort } from '../../scripts/stack/net';
import type { ChannelDouble } from './stack';

export interface RunningAlipayEmulator {
  emulator: AlipayEmulator;
  /** Base URL: /gateway.do, /pay/{trade_no}, /wallet/{trade_no}/pay, /admin/... */
  url: string;
  /** The variables for our adapter (and the emulator), as dev-keys makes them, pointed at this emulator. */
  env: Record<string, string>;
  /** The key directory (both pairs, PEM files). */
  keyDir: string;
  stop(): Promise<void>;
}

export interface AlipayEmulatorTestOptions {
  faults?: Partial<WalletFaults>;
  callbackRetryScale?: number;
  refundDelayMs?: number;
  refundAnswerWaitMs?: number;
  seed?: string;
  logger: Logger;
  /** Where the wallet is stored (schema sandbox_wallet, wallet "alipay"); in memory without one. */
  db?: Knex;
}

export async function startAlipayEmulator(options: AlipayEmulatorTestOptions): Promise<RunningAlipayEmulator> {
  const keyDir = mkdtempSync(join(tmpdir(), 'alipay-keys-'));
  const port = await freePort();
  const env = {
    ...ensureAlipayDevKeys(keyDir, { port }),
    ALIPAY_GATEWAY: `http://127.0.0.1:${port}/gateway.do`,
    ALIPAY_EMULATOR_PUBLIC_URL: `http://127.0.0.1:${port}`,
  };
  // The emulator's settings come through the configuration, as in `npm start`.
  const sandbox = loadConfig(env).sandbox.alipay!;
  const emulator = createAlipayEmulator({
    appId: sandbox.appId,
    sellerId: sandbox.sellerId,
    appPublicKey: sandbox.appPublicKey,
    alipayPrivateKey: sandbox.alipayPrivateKey,
    publicUrl: sandbox.publicUrl,
    seed: options.seed ?? 'alipay-test',
    faults: options.faults ?? {},
    callbackRetryScale: options.callbackRetryScale ?? 0.001,
    ...(options.refundDelayMs !== undefined ? { refundDelayMs: options.refundDelayMs } : {}),
    ...(options.refundAnswerWaitMs !== undefined ? { refundAnswerWaitMs: options.refundAnswerWaitMs } : {}),
    logger: options.logger,
    ...(options.db ? { store: await WalletStore.open(options.db, 'alipay') } : {}),
  });
  const server: Server = await new Promise((resolve) => {
    const s = emulator.app.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    emulator,
    url: sandbox.publicUrl,
    env,
    keyDir,
    async stop() {
      emulator.stop();
      await emulator.wallet.flush().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

/** The emulator as a Stack channel double; `onStart` hands the test its handle. */
export function alipayDouble(
  onStart: (running: RunningAlipayEmulator) => void,
  options: Omit<AlipayEmulatorTestOptions, 'logger'> = {},
): ChannelDouble {
  return async (logger, db) => {
    const running = await startAlipayEmulator({ ...options, logger, db });
    onStart(running);
    return { env: running.env, stop: running.stop };
  };
}

/** The buyer scans the code (opens the wallet page) and pays, or declines. */
export async function alipayBuyer(url: string, tradeNo: string, action: 'scan' | 'pay' | 'decline'): Promise<number> {
  if (action === 'scan') return (await fetch(`${url}/pay/${tradeNo}`)).status;
  return (await fetch(`${url}/wallet/${tradeNo}/${action}`, { method: 'POST' })).status;
}
