import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_VARIABLES, loadConfig, parseDuration } from '../../config';
import { tuningOptions } from '../../worker/worker';
import { problemsOf } from '../support/config-problems';

describe('configuration', () => {
  it('has working defaults for a local stack', () => {
    const config = loadConfig({});
    expect(config.payments.querySchedule).toEqual([
      10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    ]);
    expect(config.payments.expiryMs).toBe(30 * 60_000);
    expect(config.payments.lateWindowMs).toBe(25 * 3_600_000);
    expect(config.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'payments' });
    expect(config.stack).toEqual({
      embedTemporal: true,
      temporalPort: 7233,
      embedDatabase: true,
      dataDir: join(__dirname, '..', '..', '.data'),
      doublePorts: { wechatpay: 3101, alipay: 3102, localstripe: 3103 },
    });
    expect(config.api.port).toBe(3000);
    expect(config.channels.sandboxpay?.url).toBe('http://localhost:3100');
    expect(config.orders.url).toBe('http://localhost:3200');
  });

  it('parses a custom escalation schedule and durations', () => {
    const config = loadConfig({ PAYMENT_QUERY_SCHEDULE: '1s, 2s,2s,3s', PAYMENT_EXPIRY: '2m' });
    expect(config.payments.querySchedule).toEqual([1000, 2000, 2000, 3000]);
    expect(config.payments.expiryMs).toBe(120_000);
  });

  it('rejects a malformed escalation schedule, naming the variable and the bad entry', () => {
    const problems = problemsOf({ PAYMENT_QUERY_SCHEDULE: '10s,soon,1m' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PAYMENT_QUERY_SCHEDULE: entry 2 "soon" is not a duration/);
  });

  it('rejects a schedule whose intervals shrink', () => {
    expect(problemsOf({ PAYMENT_QUERY_SCHEDULE: '30s,10s' })[0]).toMatch(
      /PAYMENT_QUERY_SCHEDULE: entry 2 "10s" is shorter/,
    );
  });

  it('rejects an empty schedule entry and a bare number', () => {
    expect(problemsOf({ PAYMENT_QUERY_SCHEDULE: '10s,,30s' })[0]).toMatch(/PAYMENT_QUERY_SCHEDULE: entry 2 ""/);
    expect(problemsOf({ PAYMENT_EXPIRY: '30' })[0]).toMatch(/^PAYMENT_EXPIRY: "30" is not a duration/);
  });

  it('names a missing required variable', () => {
    expect(problemsOf({}, { require: ['DATABASE_URL'] })).toEqual([
      'DATABASE_URL: required by this process but not set',
    ]);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({ API_PORT: 'eighty', DATABASE_URL: 'mysql://x', TEMPORAL_ADDRESS: 'no-port' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['API_PORT', 'DATABASE_URL', 'TEMPORAL_ADDRESS']);
  });

  it('refuses the development secrets in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual([
      'SANDBOXPAY_SECRET: required in production (or SANDBOXPAY_ENABLED=false)',
      'ADMIN_API_KEY: required in production',
      'ORDER_NOTIFY_SIGNING_KEYS: required in production (the development key is refused)',
    ]);
  });

  it('builds the channels from their own variables, and refuses a deployment with none', () => {
    const config = loadConfig({ SANDBOXPAY_URL: 'http://pay.example:9000', CHANNEL_TIMEOUT: '2s' });
    expect(config.channels.sandboxpay).toEqual({
      url: 'http://pay.example:9000',
      merchantId: 'demo-shop',
      secret: expect.any(String),
      timeoutMs: 2000,
    });
    expect(problemsOf({ SANDBOXPAY_ENABLED: 'false' })).toEqual([
      'SANDBOXPAY_ENABLED: no payment channel is enabled; enable at least one',
    ]);
    expect(problemsOf({ SANDBOXPAY_ENABLED: 'maybe' })[0]).toMatch(/^SANDBOXPAY_ENABLED:/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ API_PORT: '', DATABASE_URL: '' }).api.port).toBe(3000);
    expect(loadConfig({ DATABASE_URL: '' }).stack.embedDatabase).toBe(true);
  });

  it('turns on TLS for Temporal Cloud when an API key is given', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key' });
    expect(config.temporal.tls).toBeDefined();
    expect(config.temporal.apiKey).toBe('key');
    expect(config.stack.embedTemporal).toBe(false);
  });

  it('takes the stack data directory from STACK_DATA_DIR, made absolute, and refuses a file', () => {
    expect(loadConfig({ STACK_DATA_DIR: '/tmp/stack-here' }).stack.dataDir).toBe('/tmp/stack-here');
    expect(loadConfig({ STACK_DATA_DIR: 'rel/dir' }).stack.dataDir).toBe(join(process.cwd(), 'rel', 'dir'));
    expect(problemsOf({ STACK_DATA_DIR: __filename })).toEqual(['STACK_DATA_DIR: exists and is not a directory']);
    expect(problemsOf({ STACK_DATA_DIR: '   ' })[0]).toMatch(/^STACK_DATA_DIR: must be a directory path/);
  });

  it('parses durations strictly', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration('ten seconds')).toBeUndefined();
  });

  it('leaves worker tuning to the SDK unless asked, and maps what is set to worker options', () => {
    expect(tuningOptions(loadConfig({}).workerTuning)).toEqual({});
    const tuned = loadConfig({
      WORKER_MAX_CACHED_WORKFLOWS: '5000',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '80',
      WORKER_POLLER_AUTOSCALING: 'true',
    });
    expect(tuningOptions(tuned.workerTuning)).toEqual({
      maxCachedWorkflows: 5000,
      maxConcurrentWorkflowTaskExecutions: 80,
      workflowTaskPollerBehavior: { type: 'autoscaling' },
      activityTaskPollerBehavior: { type: 'autoscaling' },
    });
    expect(problemsOf({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })[0]).toMatch(
      /^WORKER_MAX_CONCURRENT_WORKFLOW_TASKS:/,
    );
  });
});

describe('the documentation of the configuration', () => {
  it('names every variable the configuration reads (README, or docs/wechatpay.md for WeChat Pay)', () => {
    const docs = ['README.md', join('docs', 'wechatpay.md')]
      .map((f) => readFileSync(join(__dirname, '..', '..', f), 'utf8'))
      .join('\n');
    expect(CONFIG_VARIABLES.filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
  });

  it('has every variable the code reads outside the tests in the Configuration table, config module or not', () => {
    const root = join(__dirname, '..', '..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('\n## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 1),
    );
    const table = section
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .join('\n');
    const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs', '*.js', '*.cjs'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && !f.startsWith('test/'));
    const read = new Map<string, string>();
    for (const file of files) {
      const source = readFileSync(join(root, file), 'utf8');
      // process.env.X, process.env['X'], and env.X on an environment handed around (NodeJS.ProcessEnv, the parsed env)
      for (const m of source.matchAll(/\b(?:process\.)?env(?:\.([A-Z][A-Z0-9_]+)\b|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) {
        read.set(m[1] ?? m[2]!, file);
      }
      // A read by a computed name (bootstrap's findTemporal(envVar, ...)): the names are the table's [['NAME', ...]].
      if (/process\.env\[[a-zA-Z_]/.test(source)) {
        for (const m of source.matchAll(/\[\s*'([A-Z][A-Z0-9_]+)'\s*,/g)) read.set(m[1]!, file);
      }
    }
    expect(read.size).toBeGreaterThan(CONFIG_VARIABLES.length / 2);
    expect(read.get('CHROMIUM_PATH')).toBe('scripts/bootstrap.mjs');
    expect(read.get('TEMPORAL_TEST_SERVER_PATH')).toBe('scripts/bootstrap.mjs');
    // The OS's (the CLI's fallback for who acts) and jest's (a test's slice of free ports), not ours.
    const system = ['PATH', 'USER', 'USERNAME', 'JEST_WORKER_ID'];
    const undocumented = [...read.keys()].filter((name) => !system.includes(name) && !table.includes(`\`${name}\``));
    // WeChat Pay's own variables are one row (`WECHATPAY_*`) of the table, each in docs/wechatpay.md (checked above).
    expect(undocumented.filter((name) => !name.startsWith('WECHATPAY_'))).toEqual([]);
  });
});
