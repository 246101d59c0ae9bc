// The operator actions whose endpoints come with the core's branch (POST /admin/payments/{id}/renotify and
// /resolve): the README's own commands (test/support/operator-readme.ts), run as written against a real stack, and
// the refusals (409) printed with a non-zero exit. Run after merging that branch.
import { userInfo } from 'node:os';
import { isPostMergeAction, operatingCommands } from '../support/operator-readme';
import {
  createPayment,
  type MadePayment,
  OPERATOR_STACK_ENV,
  operatorEnv,
  reaches,
  shell,
} from '../support/operator-payments';
import { Stack } from '../support/stack';

// Each CLI run is a process of its own (tsx, about 2 s here): a test runs many.
jest.setTimeout(300_000);

describe('npm run payments: renotify and resolve', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start({
      // The order service's automatic retry comes only after a minute: an acknowledgement sooner is renotify's.
      // A late success waits for a person (review), so there is one to accept or close.
      env: {
        ...OPERATOR_STACK_ENV,
        ORDER_NOTIFY_INITIAL_BACKOFF: '1m',
        ORDER_NOTIFY_MAX_BACKOFF: '5m',
        LATE_SUCCESS_POLICY: 'review',
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const readme = operatingCommands().filter(isPostMergeAction);
  const commandFor = (verb: string) => {
    const found = readme.filter((c) => c.text.startsWith(`npm run payments -- ${verb} `));
    expect(found).toHaveLength(1);
    return found[0]!.text;
  };
  const run = (text: string, payment: MadePayment) =>
    shell(text.replaceAll('<paymentId>', payment.paymentId), operatorEnv(s));
  const eventLog = async (payment: MadePayment) =>
    JSON.stringify(
      await (
        await fetch(`${s.apiUrl}/admin/payments/${payment.paymentId}/events`, {
          headers: { 'x-api-key': s.config.api.adminApiKey },
        })
      ).json(),
    );
  /** Closed at expiry, then paid late at the channel: NEEDS_REVIEW under LATE_SUCCESS_POLICY=review. */
  const lateSuccess = async () => {
    const payment = await createPayment(s);
    await reaches(s, payment, 'CLOSED');
    await fetch(`${s.sandboxUrl}/admin/payments/${payment.channelPaymentId}/settle-late`, { method: 'POST' });
    await reaches(s, payment, 'NEEDS_REVIEW');
    return payment;
  };
  /** A payment the order service refused for its amount: NEEDS_REVIEW, whatever the policy. */
  const needingReview = async () => {
    const payment = await createPayment(s, { orderAmount: 1000 });
    await s.buyer(payment.channelPaymentId, 'pay');
    await reaches(s, payment, 'NEEDS_REVIEW');
    return payment;
  };

  it('the README shows renotify and resolve', () => {
    expect(readme.map((c) => c.text.split(' ')[4])).toEqual(['renotify', 'resolve']);
  });

  it('renotify tells the order service again, recorded with who asked; refused for an open payment', async () => {
    s.orderService.setFaults({ errorRate: 1 });
    const paid = await createPayment(s);
    await s.buyer(paid.channelPaymentId, 'pay');
    await reaches(s, paid, 'SUCCESS');
    s.orderService.setFaults({ errorRate: 0 });

    const r = await run(commandFor('renotify'), paid);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${paid.paymentId}: SUCCESS: `);
    await s.eventually(
      'the order service to acknowledge',
      async () => (await s.repo.get(paid.paymentId))?.order_notified_at,
      20_000,
    );
    expect((await s.order(paid.orderId)).status).toBe('PAID');
    expect(await eventLog(paid)).toContain(userInfo().username);

    const open = await createPayment(s);
    const refused = await run(commandFor('renotify'), open);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409: \S/);
  });

  it('resolve --refund sends the money back; a second resolve no longer applies', async () => {
    const review = await needingReview();
    const r = await run(commandFor('resolve'), review);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${review.paymentId}: `);
    await reaches(s, review, 'REFUNDED', 30_000);
    expect(await eventLog(review)).toContain(userInfo().username);
    // Its ended workflow still says NEEDS_REVIEW in Temporal; the list checks the database and leaves it out.
    const waiting = await run('npm run -s payments -- list --needs-review --json', review);
    expect(waiting.code).toBe(0);
    expect(waiting.stdout).not.toContain(review.paymentId);

    const again = await run(commandFor('resolve'), review);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/409: \S/);
  });

  it('resolve --accept and --close settle a late success waiting for a person', async () => {
    // Accepting money the order service refused for its amount does not apply: the API's reason is printed.
    const mismatch = await needingReview();
    const accept = commandFor('resolve').replace('--refund', '--accept');
    const refused = await run(accept, mismatch);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409: .*amount_mismatch/);

    const late = await Promise.all([lateSuccess(), lateSuccess()]);
    for (const [i, how] of ['--accept', '--close'].entries()) {
      const review = late[i]!;
      const text = commandFor('resolve').replace('--refund', how);
      const r = await run(text, review);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      await s.eventually(
        `${how} to move it out of NEEDS_REVIEW`,
        async () => (await s.repo.get(review.paymentId))?.status !== 'NEEDS_REVIEW',
        30_000,
      );
      const again = await run(text, review);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/409: \S/);
    }
  });

  it('resolve is refused for a payment that is not waiting for a person', async () => {
    const paid = await createPayment(s);
    await s.buyer(paid.channelPaymentId, 'pay');
    await reaches(s, paid, 'SUCCESS');
    const refused = await run(commandFor('resolve'), paid);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409: \S/);
    expect((await s.repo.get(paid.paymentId))?.status).toBe('SUCCESS');
  });
});
