// The operator CLI (npm run payments, scripts/payments.ts) against a real stack with real payments in each state its
// filters find: which payments each filter selects, what it prints, how it fails (a bad variable, the API's refusal),
// and what its actions send (against a recording server: who acts, the key, the body).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { userInfo } from 'node:os';
import ms from 'ms';
import { paymentWorkflowId } from '../../workflows/definitions';
import {
  makeOperatorPayments,
  OPERATOR_STACK_ENV,
  type OperatorPayments,
  operatorEnv,
  shell,
  type ShellResult,
} from '../support/operator-payments';
import { Stack } from '../support/stack';
import type { ListedPayment } from '../../scripts/payments';

/** A row of `list --json` (the CLI's own type). */
type Row = ListedPayment;

const cli = (args: string, env: NodeJS.ProcessEnv) => shell(`node_modules/.bin/tsx scripts/payments.ts ${args}`, env);

// Each CLI run is a process of its own (tsx, about 2 s here): a test runs many.
jest.setTimeout(300_000);

describe('npm run payments', () => {
  let s: Stack;
  let p: OperatorPayments;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    s = await Stack.start({ env: OPERATOR_STACK_ENV });
    p = await makeOperatorPayments(s);
    env = operatorEnv(s);
  }, 240_000);
  afterAll(async () => {
    await s?.stop();
  });

  const ours = () => Object.values(p).map((x) => x.paymentId);
  /** The ids `list <args> --json` answers, among the payments this file made. */
  const listed = async (args: string): Promise<{ ids: string[]; rows: Row[] }> => {
    const r = await cli(`list ${args} --json`, env);
    if (r.code !== 0) throw new Error(`list ${args}: exit ${r.code}: ${r.stderr}`);
    const rows = (JSON.parse(r.stdout) as { payments: Row[] }).payments;
    return { ids: rows.map((x) => x.paymentId).filter((id) => ours().includes(id)), rows };
  };
  /** Visibility is eventually consistent: ask again for a while before failing. */
  const eventuallyListed = async (args: string, expected: () => string[]) => {
    let last: string[] = [];
    await s
      .eventually(
        `list ${args}`,
        async () => {
          last = (await listed(args)).ids;
          return JSON.stringify([...last].sort()) === JSON.stringify([...expected()].sort());
        },
        20_000,
      )
      .catch(() => expect(last.sort()).toEqual(expected().sort()));
  };

  it('finds each kind of payment by its named filter, and only those', async () => {
    await eventuallyListed('--stuck', () => [p.stuck.paymentId]);
    await eventuallyListed('--overdue', () => [p.stuck.paymentId]);
    await eventuallyListed('--needs-review', () => [p.review.paymentId]);
    await eventuallyListed('--late-successes', () => [p.refunded.paymentId, p.review.paymentId]);
    await eventuallyListed('--late-successes --needs-review', () => [p.review.paymentId]);
    await eventuallyListed('--status SUCCESS', () => [
      p.paid.paymentId,
      p.byQuery.paymentId,
      p.unacknowledged.paymentId,
    ]);
    await eventuallyListed(`--order ${p.paid.orderId}`, () => [p.paid.paymentId]);
    await eventuallyListed(`--channel sandboxpay --status NEEDS_REVIEW`, () => [p.review.paymentId]);

    // Only the database knows what the order service has acknowledged.
    const unacknowledged = await listed('--unacknowledged');
    expect(unacknowledged.ids).toContain(p.unacknowledged.paymentId);
    for (const id of [p.paid.paymentId, p.byQuery.paymentId, p.stuck.paymentId]) {
      expect(unacknowledged.ids).not.toContain(id);
    }
    expect((await listed('--unacknowledged --status SUCCESS')).ids).toEqual([p.unacknowledged.paymentId]);
    expect((await listed(`--unacknowledged --order ${p.paid.orderId}`)).ids).toEqual([]);
    expect((await listed('--unacknowledged --stuck')).ids).toEqual([]);

    expect((await listed('--limit 2')).rows).toHaveLength(2);
  });

  it("fills each row from the database and the workflow's search attributes", async () => {
    const { rows } = await listed(`--order ${p.stuck.orderId}`);
    expect(rows).toEqual([
      expect.objectContaining({
        paymentId: p.stuck.paymentId,
        status: 'PAYING',
        amount: 2599,
        currency: 'CNY',
        orderId: p.stuck.orderId,
        channel: 'sandboxpay',
      }),
    ]);
    // Past its expiry: its next check is overdue.
    expect(Date.parse(rows[0]!.nextCheckAt!)).toBeLessThan(Date.now());
    const paid = (await listed(`--order ${p.byQuery.orderId}`)).rows[0]!;
    expect(paid).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query', nextCheckAt: null });

    const table = await cli(`list --order ${p.stuck.orderId}`, env);
    expect(table.code).toBe(0);
    for (const column of ['payment', 'status', 'amount', 'order', 'channel', 'age', 'next check']) {
      expect(table.stdout).toContain(column);
    }
    const line = table.stdout.split('\n').find((l) => l.includes(p.stuck.paymentId))!;
    expect(line).toMatch(/PAYING.*25\.99 CNY.*sandboxpay.*\d+s.*\d+s ago/);
    expect(table.stdout).toContain('1 payment\n');

    // A time-based filter says the times it was computed from: which expiry, which clock.
    const stuck = await cli('list --stuck', env);
    expect(stuck.code).toBe(0);
    const expiry = ms(ms(OPERATOR_STACK_ENV.PAYMENT_EXPIRY as ms.StringValue));
    expect(stuck.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^stuck: open \\(UNPAID, PAYING\\) and started before \\d{4}-\\S+Z \\(now minus PAYMENT_EXPIRY ${expiry}\\)$`,
      ),
    );
    expect(stuck.stdout).toContain(p.stuck.paymentId);
  });

  it("shows a payment's state, live view, event log and Web UI page", async () => {
    const r = await cli(`show ${p.stuck.paymentId} --json`, env);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as {
      payment: { status: string; live?: { waitingFor: string } };
      retrying: { activity: string; attempt: number; nextAttemptAt: string | null; lastFailure: string | null }[];
      events: { source: string }[];
      transitions: { status: string }[];
      webUi: string;
    };
    expect(shown.payment.status).toBe('PAYING');
    expect(shown.payment.live?.waitingFor).toEqual(expect.any(String));
    expect(shown.events.length).toBeGreaterThan(0);
    expect(shown.transitions.map((t) => t.status)).toContain('PAYING');
    const [host] = env.TEMPORAL_ADDRESS!.split(':');
    expect(shown.webUi).toBe(
      `http://${host}:8233/namespaces/default/workflows/${paymentWorkflowId(p.stuck.paymentId)}`,
    );
    // Stuck past its expiry: the final query the channel keeps failing, how often and why. The failure is encrypted in
    // Temporal and this shell has no payload key: the CLI reads it through the API's codec server.
    expect(env.PAYLOAD_ENCRYPTION_KEYS ?? env.PAYLOAD_ENCRYPTION_KEY_FILE).toBeUndefined();
    await s.eventually('the final query at expiry to be retried', async () => {
      const d = await s.temporal.workflow.getHandle(paymentWorkflowId(p.stuck.paymentId)).describe();
      return (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 1) >= 2);
    });
    const retried = JSON.parse((await cli(`show ${p.stuck.paymentId} --json`, env)).stdout) as typeof shown;
    expect(retried.retrying).toEqual([
      expect.objectContaining({ activity: 'queryChannelPayment', lastFailure: expect.stringMatching(/\S/) }),
    ]);
    expect(retried.retrying[0]!.attempt).toBeGreaterThanOrEqual(2);
    // An open payment's order has nothing to acknowledge yet.
    const open = await cli(`show ${p.stuck.paymentId}`, env);
    // Waiting out its backoff, or (for an instant) trying again.
    expect(open.stdout).toMatch(
      /retrying\s+queryChannelPayment, attempt \d+(, next try \S+ \((in \d+m?s|\d+m?s ago)\)|, trying again now): \S/,
    );
    expect(open.stdout).toMatch(/order\s+\S+\s+\(the order service is told once it is decided\)/);

    // A finished workflow has no live view: the stored state and the log still answer.
    const text = await cli(`show ${p.refunded.paymentId}`, operatorEnv(s, { TEMPORAL_UI_PORT: '9999' }));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/status\s+REFUNDED/);
    expect(text.stdout).toMatch(/transitions \(\d+\)[\s\S]*CLOSED[\s\S]*REFUNDED/);
    expect(text.stdout).toContain(`:9999/namespaces/default/workflows/${paymentWorkflowId(p.refunded.paymentId)}`);
  });

  it("prints the API's refusal and exits non-zero", async () => {
    const missing = await cli('show 00000000-0000-4000-8000-000000000000', env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/404: no such payment/);

    // Renotify applies only once the payment is decided: the open one is refused (409, the API says why).
    const refused = await cli(`renotify ${p.stuck.paymentId} --reason 'try again'`, env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409: \S/);
    // A requery after the workflow ended asks the channel itself; the channel's queries are failing (the stuck
    // payment's fault): the API's 503 and its message are printed.
    await s.eventually('the paid workflow to finish', async () => {
      const d = await s.workerTemporal.workflow.getHandle(paymentWorkflowId(p.paid.paymentId)).describe();
      return d.status.name === 'COMPLETED';
    });
    const unanswered = await cli(`requery ${p.paid.paymentId} --reason 'buyer says so'`, env);
    expect(unanswered.code).not.toBe(0);
    expect(unanswered.stderr).toMatch(/requery answered 503: the channel did not answer/);

    const wrongKey = await cli('list --unacknowledged', operatorEnv(s, { ADMIN_API_KEY: 'not-the-key-0123456789' }));
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr).toMatch(/401/);
  });

  it('refuses bad configuration and bad arguments, naming them', async () => {
    const badPort = await cli('list', operatorEnv(s, { API_PORT: 'abc', API_PUBLIC_URL: '' }));
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toMatch(/invalid configuration[\s\S]*API_PORT/);
    const badExpiry = await cli('list --stuck', operatorEnv(s, { PAYMENT_EXPIRY: 'soon' }));
    expect(badExpiry.code).not.toBe(0);
    expect(badExpiry.stderr).toContain('PAYMENT_EXPIRY');
    const noTemporal = await cli('list --stuck', operatorEnv(s, { TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    expect(noTemporal.code).not.toBe(0);
    expect(noTemporal.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);

    const badStatus = await cli('list --status PAID', env);
    expect(badStatus.code).not.toBe(0);
    expect(badStatus.stderr).toMatch(/--status.*PAID.*Allowed choices/s);
    const badLimit = await cli('list --limit 0', env);
    expect(badLimit.code).not.toBe(0);
    expect(badLimit.stderr).toContain('from 1 to 500');
  });
});

describe('npm run payments: what the actions send', () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: unknown;
  }
  const seen: Seen[] = [];
  let answer = { status: 202, body: {} as object };
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    env = { ...process.env, API_PUBLIC_URL: `http://127.0.0.1:${port}`, ADMIN_API_KEY: 'recording-key-0123456789' };
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });
  const last = () => seen[seen.length - 1]!;
  const run = async (args: string): Promise<ShellResult> => cli(args, env);

  it('sends who acts, the admin key and the body each endpoint takes', async () => {
    answer = { status: 202, body: { paymentId: 'p-1', status: 'PAYING', message: 'the workflow will query now' } };
    const requery = await run("requery p-1 --reason 'buyer says paid' --operator alice");
    expect(requery).toMatchObject({ code: 0, stdout: 'p-1: PAYING: the workflow will query now\n' });
    expect(last()).toMatchObject({
      method: 'POST',
      url: '/admin/payments/p-1/requery',
      body: { reason: 'buyer says paid' },
    });
    expect(last().headers).toMatchObject({ 'x-operator': 'alice', 'x-api-key': 'recording-key-0123456789' });

    answer = { status: 202, body: { paymentId: 'p-1', status: 'SUCCESS', message: 'the order service is told again' } };
    expect((await run("renotify p-1 --reason 'order service is back'")).code).toBe(0);
    expect(last()).toMatchObject({ url: '/admin/payments/p-1/renotify', body: { reason: 'order service is back' } });
    expect(last().headers['x-operator']).toBe(userInfo().username); // default: the OS user

    for (const action of ['refund', 'accept', 'close']) {
      answer = { status: 200, body: { paymentId: 'p-1', status: 'REFUNDING', message: `resolved: ${action}` } };
      const r = await run(`resolve p-1 --${action} --reason 'checked with the buyer' --operator bob`);
      expect(r).toMatchObject({ code: 0, stdout: `p-1: REFUNDING: resolved: ${action}\n` });
      expect(last()).toMatchObject({
        url: '/admin/payments/p-1/resolve',
        body: { action, reason: 'checked with the buyer' },
      });
      expect(last().headers['x-operator']).toBe('bob');
    }
  });

  it("prints a refusal's message and exits non-zero; sends nothing for an incomplete command", async () => {
    answer = {
      status: 409,
      body: { error: { code: 'conflict', message: 'the payment is not waiting for a person (it is SUCCESS)' } },
    };
    const refused = await run("resolve p-2 --close --reason 'duplicate'");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('409: the payment is not waiting for a person (it is SUCCESS)');

    answer = {
      status: 400,
      body: {
        error: {
          code: 'invalid_request',
          message: 'bad body',
          fields: [{ field: 'body.reason', message: 'too long' }],
        },
      },
    };
    const invalid = await run("renotify p-2 --reason 'x'");
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/400: bad body\n\s+body\.reason: too long/);

    const before = seen.length;
    for (const args of [
      "resolve p-2 --reason 'no action'",
      'resolve p-2 --refund',
      'renotify p-2',
      'resolve p-2 --refund --close --reason x',
    ]) {
      const r = await run(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toBe('');
    }
    expect(seen.length).toBe(before);
  });
});
