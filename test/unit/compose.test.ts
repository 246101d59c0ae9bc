// No Docker engine runs here, so docker-compose.yml is checked by reading it: every service built from our
// Dockerfile gets only variables the config module knows, with values it accepts, and publishes the ports its
// configuration listens on; the infrastructure it depends on is there, healthy before use.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../config';
import { allSearchAttributeKeys } from '../../workflows/definitions';

interface Service {
  build?: string;
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  entrypoint?: string[] | string;
  volumes?: string[];
  deploy?: { replicas?: number };
}

const root = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const ours = Object.entries(compose.services).filter(([, s]) => s.build === '.');
const env = (s: Service) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
const published = (s: Service) => (s.ports ?? []).map((p) => Number(p.split(':')[1]));

describe('docker-compose.yml', () => {
  it('builds the api, worker, sandbox and migrations from our Dockerfile, with an entry point that exists', () => {
    expect(ours.map(([name]) => name).sort()).toEqual(['api', 'migrate', 'sandbox', 'worker']);
    for (const [, s] of ours) {
      const entry = (s.command as string[]).find((part) => part.endsWith('.ts'))!;
      expect(() => readFileSync(join(root, entry))).not.toThrow();
    }
  });

  it('gives our services only variables the config module reads, with values it accepts', () => {
    for (const [name, s] of ours) {
      const unknown = Object.keys(env(s)).filter((k) => !(CONFIG_VARIABLES as string[]).includes(k));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      expect(() => loadConfig(env(s), { require: ['DATABASE_URL', 'TEMPORAL_ADDRESS'] })).not.toThrow();
      // The development secrets in the file are not the built-in ones, so production mode would accept them.
      expect(() => loadConfig({ ...env(s), NODE_ENV: 'production' })).not.toThrow();
    }
  });

  it('publishes the ports each service listens on; replicas only through the balancer', () => {
    const api = loadConfig(env(compose.services.api!));
    expect(published(compose.services.api!)).toEqual([]); // two replicas cannot share a host port
    expect(published(compose.services.balancer!)).toEqual([api.api.port]);
    expect(new URL(api.api.publicUrl).port).toBe(String(api.api.port)); // callbacks and buyers: the balancer's port
    const sandbox = loadConfig(env(compose.services.sandbox!));
    expect(published(compose.services.sandbox!)).toEqual([sandbox.sandbox.sandboxpay.port, sandbox.orders.port]);
    expect(published(compose.services.worker!)).toEqual([]); // scraped inside the network, each replica by DNS
    expect(published(compose.services.temporal!)).toEqual([7233]);
  });

  it('runs two API replicas behind nginx and two workers, as the cluster profile does', () => {
    expect(compose.services.api!.deploy?.replicas).toBe(2);
    expect(compose.services.worker!.deploy?.replicas).toBe(2);
    expect(compose.services.balancer!.image).toMatch(/^nginx:/);
    expect(compose.services.balancer!.volumes).toContain('./deploy/nginx/api.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(compose.services.balancer!.depends_on).toMatchObject({ api: { condition: 'service_healthy' } });
    const nginx = readFileSync(join(root, 'deploy', 'nginx', 'api.conf'), 'utf8');
    const api = loadConfig(env(compose.services.api!));
    expect(nginx).toContain(`server api:${api.api.port} resolve`); // every replica, re-resolved
    expect(nginx).toMatch(/listen 3000;/);
    expect(nginx).toMatch(/proxy_next_upstream error timeout;/); // only requests that never reached a replica
    expect(nginx).toMatch(/proxy_buffering off;/); // push streams flow
  });

  it('points our services at the services that exist, by their compose names and ports', () => {
    const worker = loadConfig(env(compose.services.worker!));
    expect(worker.temporal.address).toBe('temporal:7233');
    expect(new URL(worker.database.url!).hostname).toBe('postgresql');
    expect(new URL(worker.channels.sandboxpay!.url).host).toBe('sandbox:3100');
    expect(new URL(worker.orders.url).host).toBe('sandbox:3200');
    expect(new URL(worker.api.publicUrl).host).toBe('balancer:3000'); // where the channel calls back
    const sandbox = loadConfig(env(compose.services.sandbox!));
    expect(new URL(sandbox.sandbox.shopApiUrl).host).toBe('balancer:3000');
    const api = loadConfig(env(compose.services.api!));
    expect(api.api.corsOrigins).toEqual([sandbox.orders.url]); // the shop's pages read payments from the browser
  });

  it('starts things in order: healthy infrastructure first, migrations before the services', () => {
    for (const infra of ['postgresql', 'temporal', 'api', 'balancer', 'sandbox']) {
      expect(compose.services[infra]?.healthcheck?.test.length).toBeGreaterThan(0);
    }
    for (const [name, s] of Object.entries(compose.services)) {
      for (const dep of Object.keys(s.depends_on ?? {}))
        expect({ name, dep, exists: dep in compose.services }).toEqual({ name, dep, exists: true });
    }
    expect(compose.services.api!.depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
    });
    expect(compose.services.worker!.depends_on).toMatchObject({
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
  });

  it('registers every search attribute the workflows use, and runs the official Temporal images and UI', () => {
    const setup = [compose.services['temporal-setup']!.command].flat().join(' ');
    for (const key of allSearchAttributeKeys) expect(setup).toContain(key.name);
    expect(compose.services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
  });

  it('runs the Temporal server the cluster profile builds: the same release, four services, the one configuration file', () => {
    const release = /const TEMPORAL_SERVER_VERSION = 'v([0-9.]+)'/.exec(
      readFileSync(join(root, 'scripts', 'bootstrap.mjs'), 'utf8'),
    )![1];
    const server = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('temporalio/server:'));
    const started = server.map(([, s]) => [s.command].flat().join(' ')).sort();
    expect(started).toEqual(['frontend', 'history', 'matching', 'worker']);
    for (const [name, s] of server) {
      expect({ name, image: s.image }).toEqual({ name, image: `temporalio/server:${release}` });
      const entry = [s.entrypoint].flat().join(' ');
      expect(entry).toContain('--config-file /etc/temporal/deploy/server.yaml');
      expect(s.volumes).toContain('./deploy/temporal:/etc/temporal/deploy:ro');
    }
    expect(compose.services.temporal!.command).toEqual(['frontend']); // what TEMPORAL_ADDRESS names
    // The schema and the CLI come from the same release's admin tools.
    for (const name of ['temporal-schema', 'temporal-setup'])
      expect(compose.services[name]!.image).toBe(`temporalio/admin-tools:${release}`);
    expect(readFileSync(join(root, 'deploy', 'temporal', 'server.yaml'), 'utf8')).toMatch(/^# enable-template/);
  });
});
