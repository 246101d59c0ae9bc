// What `npm start` shows on a terminal: the services' JSON log lines (made here with the services' own logger
// options) as one readable line per event, prefixed by the service's name by the Supervisor; never a Temporal task
// token, a payment payload or a secret. Piped (no formatter), the JSON lines go through as they are.
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions } from '../../observability/logger';
import { createTerminalFormatter } from '../../observability/terminal';
import { type ChildSpec, Supervisor } from '../../scripts/stack/supervisor';

const TASK_TOKEN = 'CiQ0NjVlZmQ1Mi1hYmNkLTRlZmYtODAwMS1kZWFkYmVlZjAwMDESCnBheW1lbnQtcDE=';

/** The JSON lines a service's logger writes for `write(logger)`. */
function jsonLines(service: string, write: (logger: pino.Logger) => void): string[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  write(pino(loggerOptions(service, 'info'), sink));
  return lines;
}

/** The Temporal SDK's log of a failed activity attempt, as the worker's Runtime logger passes it on (worker/main.ts). */
function activityFailure(logger: pino.Logger): void {
  const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3200'), {
    details: [{ orderId: 'o-77', amount: 2599 }],
  });
  logger.warn(
    {
      sdk: {
        isLocal: false,
        attempt: 3,
        namespace: 'default',
        taskToken: TASK_TOKEN,
        activityId: '5',
        activityType: 'notifyOrder',
        taskQueue: 'payments',
        workflowId: 'payment-p1',
        workflowRunId: 'run-1',
        workflowType: 'PaymentWorkflow',
        error,
        durationMs: 12,
      },
    },
    'Activity failed',
  );
}

/** Runs `lines` through a Supervisor as a service's output and answers what reached the terminal. */
async function throughSupervisor(
  name: string,
  lines: string[],
  format?: (name: string, line: string) => string | undefined,
): Promise<string> {
  let shown = '';
  const capture = (stream: NodeJS.WriteStream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      shown += String(chunk);
      return true;
    });
  const spies = [capture(process.stdout), capture(process.stderr)];
  const supervisor = new Supervisor(() => undefined, format ? { format } : {});
  const spec: ChildSpec = {
    name,
    spawn: ({ output }) => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      for (const line of lines) output(line, 'stdout');
      return child;
    },
  };
  try {
    await supervisor.start(spec);
  } finally {
    supervisor.killAllNow();
    spies.forEach((s) => s.mockRestore());
  }
  return shown;
}

describe('the terminal of npm start', () => {
  const readable = createTerminalFormatter({ colors: false });

  it('shows an activity failure as one line under the worker name: what failed and why, no task token', async () => {
    const lines = jsonLines('worker', activityFailure);
    // The JSON line (production, a pipe) already has no token and no failure details, and keeps the error message.
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(TASK_TOKEN);
    expect(lines[0]).not.toMatch(/taskToken|o-77/);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      sdk: { activityType: 'notifyOrder', error: { message: 'connect ECONNREFUSED 127.0.0.1:3200' } },
    });

    const shown = await throughSupervisor('worker', lines, readable);
    expect(shown.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        /^worker +\| \[\d\d:\d\d:\d\d\.\d{3}\] WARN: Activity failed \[notifyOrder attempt 3\] \[PaymentWorkflow payment-p1\]: connect ECONNREFUSED 127\.0\.0\.1:3200$/,
      ),
    ]);
  });

  it('never shows a payment payload, a body or a secret, and keeps the ids a person searches by', () => {
    const lines = jsonLines('api', (logger) =>
      logger.error(
        {
          paymentId: 'p-1',
          payload: { openid: 'buyer-openid-1', amount: 2599 },
          body: 'total_amount=25.99&sign=SIGNATURE',
          channel: { name: 'alipay', secret: 's3cret-value', privateKey: '-----BEGIN PRIVATE KEY-----' },
          headers: { 'wechatpay-signature': 'SIG-VALUE' },
          err: Object.assign(new TypeError('bad gateway\n  from upstream'), { stack: 'TypeError: bad gateway\n at x' }),
        },
        'callback could not be accepted',
      ),
    );
    const shown = readable('api', lines[0]!)!;
    expect(shown).not.toMatch(/buyer-openid-1|2599|SIGNATURE|s3cret|BEGIN PRIVATE KEY|SIG-VALUE|at x/);
    expect(shown).not.toContain('\n');
    expect(shown).toMatch(/ERROR: callback could not be accepted: bad gateway from upstream/);
    expect(shown).toContain('"paymentId":"p-1"');
  });

  it('shows an HTTP request as method, path, status and time', () => {
    const lines = jsonLines('api', (logger) =>
      logger.info(
        { req: { method: 'POST', url: '/payments' }, res: { statusCode: 201 }, responseTime: 35 },
        'request completed',
      ),
    );
    expect(readable('api', lines[0]!)).toMatch(/INFO: request completed POST \/payments -> 201 \(35 ms\)$/);
  });

  it("explains the dev server's warning when the Web UI opens a workflow once, then hides the repeats", () => {
    const warning =
      'time=2026-11-27T18:45:13.831 level=WARN msg="GetHistory page size is larger than threshold" service=frontend ' +
      'wf-id=payment-p1 wf-run-id=r wf-namespace-id=n wf-size=1000';
    expect(readable('temporal', warning)).toMatch(
      /^note: the Web UI asked for workflow history in pages of 1000 events/,
    );
    expect(readable('temporal', warning)).toBeUndefined();
    // anything else the server says is shown as it is
    const other = 'time=2026-11-27T18:45:14.000 level=ERROR msg="persistence unavailable" service=history';
    expect(readable('temporal', other)).toBe(other);
  });

  it("sums up the schedules' missed runs after a restart in one note, not one warning per missed run", () => {
    const missed = (at: string) =>
      'time=2026-11-27T19:08:42.906 level=WARN msg="Schedule missed catchup window" service=worker ' +
      `schedule-id=reconcile-sweep-payments now=2026-11-27T19:08:42.899Z time=${at}`;
    expect(readable('temporal', missed('2026-11-27T16:55:00.000'))).toBe(
      'note: schedule reconcile-sweep-payments missed runs while the stack was down; they are skipped, the next run ' +
        'covers them (harmless; repeats hidden)',
    );
    expect(readable('temporal', missed('2026-11-27T17:00:00.000'))).toBeUndefined();
  });

  it('passes what is not a log line through as it is (a stack trace, a tool of its own)', () => {
    expect(readable('sandbox', '    at main (/app/sandbox/main.ts:12:3)')).toBe(
      '    at main (/app/sandbox/main.ts:12:3)',
    );
    expect(readable('localstripe', '{not json')).toBe('{not json');
  });

  it('without a formatter (not a terminal, or production) the JSON lines go through unchanged, prefixed', async () => {
    const lines = jsonLines('worker', activityFailure);
    const shown = await throughSupervisor('worker', lines);
    expect(shown).toBe(`worker     | ${lines[0]}\n`);
  });
});
