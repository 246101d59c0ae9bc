// The WeChat Pay v3 emulator on a real port, configured the way `npm start` configures it: development keys made by
// sandbox/wechatpay/dev-keys.ts, read back through config/index.ts, so the adapter and the emulator hold the two
// halves of the same keys. As a Stack channel double it answers the variables that enable our adapter, and keeps its
// wallet in the stack's database (as `npm start` does); alone, in memory unless given a database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import pino, { type Logger } from 'pino';
import { WechatPayChannel } from '../../channels/wechatpay/adapter';
import { type Config, loadConfig } from '../../config';
import { freePort } from '../../scripts/stack/net';
import { ensureWechatPayDevKeys } from '../../sandbox/wechatpay/dev-keys';
import {
  createWechatPayEmulator,
  type WechatPayEmulator,
  wechatPayEmulatorOptions,
} from '../../sandbox/wechatpay/emulator';
import type { WalletFaults } from '../../sandbox/wallet';
import { WalletStore } from '../../sandbox/wallet-store';
import type { ChannelDouble } from './stack';

export interface WechatPayEmulatorRunOptions {
  /** Which platform key the adapter is given (the emulator signs with the same key either way). */
  mode?: 'public_key' | 'certificate';
  faults?: Partial<WalletFaults>;
  callbackRetryScale?: number;
  refundDelayMs?: number;
  logger?: Logger;
  /** Where the wallet is stored (schema sandbox_wallet, wallet "wechatpay"); in memory without one. */
  db?: Knex;
}

export interface RunningWechatPay {
  emulator: WechatPayEmulator;
  url: string;
  /** The variables that configure the adapter (and the emulator), WECHATPAY_API_URL pointing at this one. */
  env: Record<string, string>;
  config: Config;
  /** A channel adapter configured from `env`. */
  channel: WechatPayChannel;
  stop(): Promise<void>;
}

export async function runWechatPayEmulator(options: WechatPayEmulatorRunOptions = {}): Promise<RunningWechatPay> {
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'wechatpay-keys-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...ensureWechatPayDevKeys(dir, { mode: options.mode ?? 'public_key', port }),
    WECHATPAY_API_URL: url,
  };
  const config = loadConfig(env);
  const emulator = createWechatPayEmulator(
    wechatPayEmulatorOptions(config.sandbox.wechatpay!, {
      publicUrl: url,
      seed: 'wechatpay-test',
      faults: options.faults ?? {},
      callbackRetryScale: options.callbackRetryScale ?? 0.01,
      refundDelayMs: options.refundDelayMs ?? 300,
      logger,
      ...(options.db ? { store: await WalletStore.open(options.db, 'wechatpay') } : {}),
    }),
  );
  const server = emulator.app.listen(port, '127.0.0.1');
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    emulator,
    url,
    env,
    config,
    channel: new WechatPayChannel(config.channels.wechatpay!, logger),
    async stop() {
      emulator.stop();
      await emulator.wallet.flush().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The emulator as a Stack channel double; `started` receives it (the test drives the buyer and the faults). */
export function wechatPayDouble(
  options: WechatPayEmulatorRunOptions & { started?: (running: RunningWechatPay) => void } = {},
): ChannelDouble {
  return async (logger, db) => {
    const running = await runWechatPayEmulator({ logger, db, ...options });
    options.started?.(running);
    return { env: running.env, stop: running.stop };
  };
}
