// The configured payment channels, by the name payments carry. Adding a channel = an adapter + a line here.
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { SandboxPayChannel } from './sandboxpay';
import type { PaymentChannel } from './types';

export type ChannelRegistry = Record<string, PaymentChannel>;

export function createChannels(config: Pick<Config, 'channel'>, logger: Logger): ChannelRegistry {
  return {
    sandboxpay: new SandboxPayChannel(
      {
        url: config.channel.url,
        merchantId: config.channel.merchantId,
        secret: config.channel.secret,
        timeoutMs: config.channel.timeoutMs,
      },
      logger,
    ),
  };
}
