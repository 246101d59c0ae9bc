// Every command README.md's "Operating it" section shows an operator runs as written against a real stack: taken
// from the README (test/support/operator-readme.ts), ids and times substituted, run in a shell (npm run payments,
// npm run temporal, curl), its output checked. A command the README adds without a check here fails this test.
// (renotify and resolve, whose endpoints come with the core's branch, are run by operator-cli-actions.test.ts.)
import type { Client } from '@temporalio/client';
import { paymentWorkflowId, refundWorkflowId } from '../../workflows/definitions';
import { isPostMergeAction, operatingCommands, type ReadmeCommand } from '../support/operator-readme';
import {
  createPayment,
  heal,
  type MadePayment,
  makeOperatorPayments,
  OPERATOR_STACK_ENV,
  type OperatorPayments,
  operatorEnv,
  reaches,
  shell,
  type ShellResult,
} from '../support/operator-payments';
import { Stack } from '../support/stack';

const EXPIRY_MS = 12_000;

/** What follows npm's "> pkg script" header lines: the command's own output. */
const ownOutput = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => !l.startsWith('> '))
    .join('\n')
    .trim();
const json = (stdout: string) => JSON.parse(ownOutput(stdout)) as Record<string, unknown>;

interface Check {
  /** Which README command (or filter row) this check runs. */
  match: RegExp;
  /** 1: while the stuck payment is stuck and the order service failing; 2: after both healed. */
  phase: 1 | 2;
  run: (command: ReadmeCommand) => Promise<void>;
}

describe('the README\'s "Operating it" commands, run as written', () => {
  let s: Stack;
  let temporal: Client;
  let p: OperatorPayments;
  beforeAll(async () => {
    s = await Stack.start({ env: OPERATOR_STACK_ENV });
    temporal = s.workerTemporal;
    p = await makeOperatorPayments(s);
  }, 240_000);
  afterAll(async () => {
    await s?.stop();
  });

  const apiHostPort = () => new URL(s.apiUrl).host;
  /** The README's placeholders and examples, replaced by this stack's payment and address. */
  const substitute = (text: string, payment: MadePayment) =>
    text
      .replaceAll('<paymentId>', payment.paymentId)
      .replaceAll('<orderId>', payment.orderId)
      .replaceAll("'o-1'", `'${payment.orderId}'`)
      .replaceAll('localhost:3000', apiHostPort());
  const run = async (command: ReadmeCommand, payment: MadePayment, edit = (t: string) => t) => {
    const result = await shell(edit(substitute(command.text, payment)), operatorEnv(s));
    return result;
  };
  /** Runs until `check` passes (visibility is eventually consistent), at most ~20 s. */
  const until = async (what: () => Promise<ShellResult>, check: (r: ShellResult) => void) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const result = await what();
      try {
        check(result);
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`${(err as Error).message}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const ok = (r: ShellResult) => {
    if (r.code !== 0) throw new Error(`exit code ${r.code}: ${r.stderr}`);
  };
  const lists = (r: ShellResult, present: string[], absent: string[] = []) => {
    ok(r);
    for (const id of present) expect(r.stdout).toContain(id);
    for (const id of absent) expect(r.stdout).not.toContain(id);
  };
  const listCheck =
    (payment: () => MadePayment, present: () => string[], absent: () => string[] = () => []) =>
    (c: ReadmeCommand) =>
      until(
        () => run(c, payment()),
        (r) => lists(r, present(), absent()),
      );
  /** A filter row's example times, replaced as its note says: now minus the expiry, or now. */
  const filterTimes = (c: ReadmeCommand) => (text: string) => {
    const now = Date.now();
    const time = /now minus the expiry/.test(c.row ?? '') ? now - EXPIRY_MS : now;
    return text.replace(/'\d{4}-\d\d-\d\dT[\d:.]+Z'/g, `'${new Date(time).toISOString()}'`);
  };
  const filterCheck =
    (present: () => string[], absent: () => string[] = () => []) =>
    (c: ReadmeCommand) =>
      until(
        () => run(c, p.paid, filterTimes(c)),
        (r) => lists(r, present(), absent()),
      );
  const wf = paymentWorkflowId;

  const checks: Check[] = [
    {
      match: /^npm run payments -- list --stuck$/,
      phase: 1,
      run: listCheck(
        () => p.paid,
        () => [p.stuck.paymentId],
        () => [p.paid.paymentId, p.unacknowledged.paymentId],
      ),
    },
    {
      match: /^npm run payments -- list --overdue$/,
      phase: 1,
      run: listCheck(
        () => p.paid,
        () => [p.stuck.paymentId],
        () => [p.paid.paymentId],
      ),
    },
    {
      match: /^npm run payments -- list --unacknowledged$/,
      phase: 1,
      run: listCheck(
        () => p.paid,
        () => [p.unacknowledged.paymentId],
        () => [p.paid.paymentId, p.byQuery.paymentId, p.stuck.paymentId],
      ),
    },
    {
      match: /^npm run payments -- list --late-successes$/,
      phase: 1,
      run: listCheck(
        () => p.paid,
        () => [p.refunded.paymentId, p.review.paymentId],
        () => [p.paid.paymentId],
      ),
    },
    {
      match: /^npm run payments -- list --needs-review$/,
      phase: 1,
      run: listCheck(
        () => p.paid,
        () => [p.review.paymentId],
        () => [p.refunded.paymentId, p.paid.paymentId],
      ),
    },
    {
      match: /^npm run payments -- list --status SUCCESS --channel sandboxpay --limit 20$/,
      phase: 1,
      run: (c) =>
        until(
          () => run(c, p.paid),
          (r) => {
            lists(r, [p.paid.paymentId, p.byQuery.paymentId], [p.review.paymentId, p.stuck.paymentId]);
            const line = r.stdout.split('\n').find((l) => l.includes(p.paid.paymentId))!;
            expect(line).toMatch(/SUCCESS.*25\.99 CNY.*sandboxpay/);
            expect(line).toContain(p.paid.orderId);
          },
        ),
    },
    {
      match: /^npm run payments -- list --order <orderId> --json$/,
      phase: 1,
      run: (c) =>
        until(
          () => run(c, p.paid),
          (r) => {
            ok(r);
            const body = json(r.stdout) as { payments: Record<string, unknown>[] };
            expect(body.payments).toEqual([
              expect.objectContaining({
                paymentId: p.paid.paymentId,
                status: 'SUCCESS',
                amount: 2599,
                currency: 'CNY',
                orderId: p.paid.orderId,
                channel: 'sandboxpay',
                resolvedBy: 'callback',
              }),
            ]);
          },
        ),
    },
    {
      match: /^npm run payments -- list --stuck --print-query$/,
      phase: 1,
      run: async (c) => {
        const before = Date.now();
        const r = await run(c, p.paid);
        ok(r);
        const query = ownOutput(r.stdout);
        const time = Date.parse(/StartTime < '([^']+)'/.exec(query)![1]!);
        expect(time).toBeGreaterThanOrEqual(before - EXPIRY_MS - 1000);
        expect(time).toBeLessThanOrEqual(Date.now() - EXPIRY_MS);
        // What it prints is a filter Temporal runs, and it finds the stuck payment.
        const found: string[] = [];
        for await (const w of temporal.workflow.list({ query })) found.push(w.workflowId);
        expect(found).toContain(wf(p.stuck.paymentId));
        expect(found).not.toContain(wf(p.paid.paymentId));
      },
    },
    {
      match: /^npm run payments -- show <paymentId>$/,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.stuck);
        ok(r);
        expect(r.stdout).toMatch(/status\s+PAYING/);
        expect(r.stdout).toContain('25.99 CNY');
        expect(r.stdout).toMatch(/next check/);
        expect(r.stdout).toMatch(/events \(\d+\)/);
        expect(r.stdout).toContain(`http://127.0.0.1:8233/namespaces/default/workflows/${wf(p.stuck.paymentId)}`);
      },
    },
    {
      match: /^npm run payments -- requery <paymentId> --reason /,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.stuck);
        ok(r);
        expect(ownOutput(r.stdout)).toMatch(new RegExp(`^${p.stuck.paymentId}: PAYING: \\S`));
        await expectSignal(p.stuck, 'requery');
      },
    },
    {
      match: /^npm run temporal -- workflow query --workflow-id payment-<paymentId> --type status$/,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.stuck);
        ok(r);
        expect(r.stdout).toContain('waitingFor');
        expect(r.stdout).toContain(p.stuck.paymentId);
      },
    },
    {
      match: /^npm run temporal -- workflow signal --workflow-id payment-<paymentId> --name requery --input '\{\}'$/,
      phase: 1,
      run: async (c) => {
        const signalsBefore = await signalCount(p.stuck, 'requery');
        ok(await run(c, p.stuck));
        expect(await signalCount(p.stuck, 'requery')).toBe(signalsBefore + 1);
      },
    },
    {
      match: /^npm run temporal -- workflow signal --workflow-id payment-<paymentId> --name cancel --input '\{\}'$/,
      phase: 2,
      run: async (c) => {
        const open = await createPayment(s);
        ok(await run(c, open));
        await reaches(s, open, 'CANCELLED', 20_000);
      },
    },
    {
      match: /^npm run temporal -- workflow show --workflow-id payment-<paymentId> --output json$/,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.paid);
        ok(r);
        const history = json(r.stdout) as {
          events: {
            eventType: string;
            userMetadata?: { summary?: { data: string } };
            markerRecordedEventAttributes?: { markerName: string };
          }[];
        };
        // What the README says the timeline holds: labels on timers and activities, and on the local activities'
        // markers (named core_local_activity), in each event's metadata.
        const labelled = history.events
          .filter((e) => e.userMetadata?.summary)
          .map((e) => {
            const label = JSON.parse(Buffer.from(e.userMetadata!.summary!.data, 'base64').toString()) as string;
            const type = e.eventType.replace('EVENT_TYPE_', '');
            return `${type}${e.markerRecordedEventAttributes ? ` ${e.markerRecordedEventAttributes.markerName}` : ''}: ${label}`;
          });
        expect(labelled).toEqual(
          expect.arrayContaining([
            'ACTIVITY_TASK_SCHEDULED: create the payment at the channel',
            'TIMER_STARTED: callback, or query #1',
            'MARKER_RECORDED core_local_activity: record SUCCESS (by callback)',
            'MARKER_RECORDED core_local_activity: tell the order service: SUCCESS (first try)',
          ]),
        );
        // The summary line the Web UI shows at the top of the workflow's page.
        const description = await temporal.workflow.getHandle(wf(p.paid.paymentId)).describe();
        expect(await description.staticSummary()).toBe(`Payment 25.99 CNY for order ${p.paid.orderId} via sandboxpay`);
      },
    },
    {
      match: /^curl -s -XPOST localhost:3000\/admin\/payments\/<paymentId>\/requery /,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.stuck);
        ok(r);
        expect(json(r.stdout)).toMatchObject({ paymentId: p.stuck.paymentId, status: 'PAYING' });
        await expectSignal(p.stuck, 'requery');
      },
    },
    {
      match: /^curl -s -XPOST localhost:3000\/payments\/<paymentId>\/cancel$/,
      phase: 2,
      run: async (c) => {
        const open = await createPayment(s);
        ok(await run(c, open));
        await reaches(s, open, 'CANCELLED', 20_000);
      },
    },
    {
      match: /^curl -s 'localhost:3000\/admin\/payments\?status=PAYING&olderThan=30m' /,
      phase: 1,
      run: async (c) => {
        // The README's 30 minutes is this stack's expiry.
        const r = await run(c, p.paid, (t) => t.replace('olderThan=30m', `olderThan=${EXPIRY_MS / 1000}s`));
        ok(r);
        const ids = (json(r.stdout).payments as { paymentId: string }[]).map((x) => x.paymentId);
        expect(ids).toContain(p.stuck.paymentId);
        expect(ids).not.toContain(p.paid.paymentId);
      },
    },
    {
      match: /^curl -s 'localhost:3000\/admin\/payments\?unacknowledged=true' /,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.paid);
        ok(r);
        const ids = (json(r.stdout).payments as { paymentId: string }[]).map((x) => x.paymentId);
        expect(ids).toContain(p.unacknowledged.paymentId);
        expect(ids).not.toContain(p.paid.paymentId);
      },
    },
    {
      match: /^curl -s localhost:3000\/admin\/payments\/<paymentId>\/events /,
      phase: 1,
      run: async (c) => {
        const r = await run(c, p.paid);
        ok(r);
        const body = json(r.stdout) as { events: { source: string }[]; transitions: { status: string }[] };
        expect(body.events.map((e) => e.source)).toContain('callback');
        expect(body.transitions.map((t) => t.status)).toEqual(expect.arrayContaining(['PAYING', 'SUCCESS']));
      },
    },
    // The list filters, by their row's question.
    {
      match: /^payments only/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.paid.paymentId), wf(p.refunded.paymentId)],
        () => [refundWorkflowId(p.refunded.paymentId)],
      ),
    },
    {
      match: /^one order's payments/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.paid.paymentId)],
        () => [wf(p.byQuery.paymentId)],
      ),
    },
    {
      match: /^stuck: open past expiry/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.stuck.paymentId)],
        () => [wf(p.paid.paymentId)],
      ),
    },
    {
      match: /^overdue/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.stuck.paymentId)],
        () => [wf(p.paid.paymentId)],
      ),
    },
    {
      match: /^late successes/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.refunded.paymentId), refundWorkflowId(p.refunded.paymentId), wf(p.review.paymentId)],
        () => [wf(p.paid.paymentId)],
      ),
    },
    {
      match: /^waiting for a person/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.review.paymentId)],
        () => [wf(p.refunded.paymentId)],
      ),
    },
    {
      match: /^resolved by a query/,
      phase: 1,
      run: filterCheck(
        () => [wf(p.byQuery.paymentId)],
        () => [wf(p.paid.paymentId)],
      ),
    },
    {
      match: /^by channel/,
      phase: 1,
      run: filterCheck(() => [wf(p.paid.paymentId), wf(p.byQuery.paymentId)]),
    },
  ];

  async function signalCount(payment: MadePayment, name: string): Promise<number> {
    const history = await temporal.workflow.getHandle(wf(payment.paymentId)).fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name).length;
  }
  async function expectSignal(payment: MadePayment, name: string): Promise<void> {
    expect(await signalCount(payment, name)).toBeGreaterThan(0);
  }

  const commands = operatingCommands().filter((c) => !isPostMergeAction(c));
  const checkOf = (c: ReadmeCommand) => checks.filter((k) => k.match.test(c.row ?? c.text));

  it('has one check for every command the section shows', () => {
    expect(commands.length).toBeGreaterThan(20);
    const unchecked = commands.filter((c) => checkOf(c).length !== 1).map((c) => c.row ?? c.text);
    expect(unchecked).toEqual([]);
    const unused = checks.filter((k) => !commands.some((c) => k.match.test(c.row ?? c.text))).map((k) => k.match);
    expect(unused).toEqual([]);
  });

  it('runs each of them, and each answers what the README says', async () => {
    for (const phase of [1, 2] as const) {
      if (phase === 2) heal(s);
      for (const c of commands) {
        const [check] = checkOf(c);
        if (check?.phase !== phase) continue;
        try {
          await check.run(c);
        } catch (err) {
          throw new Error(`README command: ${c.text}\n${(err as Error).message}`);
        }
      }
    }
    await reaches(s, p.stuck, 'CLOSED', 60_000);
  }, 600_000);
});
