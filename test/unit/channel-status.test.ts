// One rule for every adapter's status words: known words map, unknown ones count as the cautious state, loudly.
import pino from 'pino';
import { Writable } from 'node:stream';
import { stateOfWord } from '../../channels/status';
import { TRADE_STATES } from '../../channels/wechatpay/notification';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('a channel status word as our state', () => {
  it('maps known words, and counts an unknown one (or an Object.prototype name) as the fallback, logged as an error', async () => {
    const { logger, lines } = capture();
    const report = { logger, channel: 'wechatpay', what: 'trade_state', context: { outTradeNo: 'abc' } };
    expect(stateOfWord(TRADE_STATES, 'SUCCESS', 'PENDING', report)).toBe('SUCCESS');
    expect(stateOfWord(TRADE_STATES, 'REFUND', 'PENDING', report)).toBe('SUCCESS');
    expect(lines).toHaveLength(0);
    expect(stateOfWord(TRADE_STATES, 'SOMETHING_NEW', 'PENDING', report)).toBe('PENDING');
    expect(stateOfWord(TRADE_STATES, 'constructor', 'PENDING', report)).toBe('PENDING');
    expect(stateOfWord(TRADE_STATES, undefined, 'PENDING', report)).toBe('PENDING');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.channelStatus, l.outTradeNo, l.msg])).toEqual([
      [50, 'SOMETHING_NEW', 'abc', 'unknown trade_state, treated as PENDING'],
      [50, 'constructor', 'abc', 'unknown trade_state, treated as PENDING'],
      [50, undefined, 'abc', 'unknown trade_state, treated as PENDING'],
    ]);
  });
});
