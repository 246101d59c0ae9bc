// Secrets and payment payloads never reach the logs, whatever a caller passes: checked on the JSON the logger writes.
import { Writable } from 'node:stream';
import pino from 'pino';
import { CHANNEL_SIGNATURE_HEADERS, REDACT_PATHS } from '../../observability/logger';

function logged(obj: object): string {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink).info(obj, 'x');
  return lines.join('');
}

describe('log redaction', () => {
  it("hides every channel's signature headers, API keys and authorization, at the top or one level down", () => {
    const headers = Object.fromEntries(
      [...CHANNEL_SIGNATURE_HEADERS, 'authorization', 'x-api-key'].map((h) => [h, `SECRET-${h}`]),
    );
    const text = logged({ headers, req: { headers: { ...headers, 'content-type': 'application/json' } } });
    expect(text).not.toMatch(/SECRET-/);
    expect(text).toContain('application/json');
  });

  it('hides payloads, bodies, secrets and private keys', () => {
    const text = logged({
      payload: { openid: 'buyer-1' },
      body: 'amount=88.00',
      channel: { secret: 's3cret', privateKey: '-----BEGIN PRIVATE KEY-----' },
      paymentId: 'p-1',
    });
    expect(text).not.toMatch(/buyer-1|88\.00|s3cret|BEGIN PRIVATE KEY/);
    expect(text).toContain('p-1');
  });
});
