// The configured payment channels, by the name payments carry. Adding a channel = an adapter + a line here.
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { AlipayChannel } from './alipay/adapter';
import { SandboxPayChannel } from './sandboxpay';
import { StripeChannel } from './stripe';
import type { PaymentChannel } from './types';
import { WechatPayChannel } from './wechatpay/adapter';

export type ChannelRegistry = Record<string, PaymentChannel>;

/**
 * The channel of that name, if configured. Own properties only: a name from a request such as `constructor` or
 * `__proto__` must not find Object.prototype's members.
 */
export function findChannel(channels: ChannelRegistry, name: string): PaymentChannel | undefined {
  return Object.hasOwn(channels, name) ? channels[name] : undefined;
}

/** The registry: one adapter per enabled channel, by the name payments carry. */
export function createChannels(config: Pick<Config, 'channels'>, logger: Logger): ChannelRegistry {
  const registry: ChannelRegistry = {};
  const { sandboxpay, wechatpay, stripe, alipay } = config.channels;
  if (sandboxpay) registry.sandboxpay = new SandboxPayChannel(sandboxpay, logger);
  if (wechatpay) registry.wechatpay = new WechatPayChannel(wechatpay, logger);
  if (stripe) registry.stripe = new StripeChannel(stripe, logger);
  if (alipay) registry.alipay = new AlipayChannel(alipay, logger);
  return registry;
}
