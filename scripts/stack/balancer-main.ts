// The local load balancer as a process (`node --import tsx scripts/stack/balancer-main.ts`): the stack launcher runs
// it in front of the API replicas, as nginx or a cloud load balancer does in production. Its variables are its own
// (the services never read them, so config/index.ts does not either):
//   BALANCER_PORT       the port it listens on (required)
//   BALANCER_HOST       the address it listens on (default 127.0.0.1)
//   BALANCER_UPSTREAMS  the API replicas, comma-separated http:// URLs (required)
// A bad value exits with code 2 and one line per variable. SIGINT/SIGTERM stop taking connections, let the requests
// in flight finish, and cut the push streams after 2 s (their clients reconnect with Last-Event-ID).
import { z } from 'zod';
import { createLogger } from '../../observability/logger';
import { createBalancer } from './balancer';

const PORT_RANGE = 'is not a port number (1 to 65535)';
const ORIGIN_EXAMPLE = 'an origin such as http://127.0.0.1:3001';

/** "http://a:1, http://b:2" into the replicas' origins; each entry is checked and named by its position. */
const upstreamList = z
  .string({ error: `required: the API replicas, comma-separated (${ORIGIN_EXAMPLE})` })
  .transform((text, ctx) => {
    const origins: string[] = [];
    for (const [i, part] of text
      .split(',')
      .map((p) => p.trim())
      .entries()) {
      const url = URL.canParse(part) ? new URL(part) : undefined;
      if (!url || url.protocol !== 'http:' || url.pathname !== '/' || url.search || url.hash || url.username) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} "${part}" is not ${ORIGIN_EXAMPLE}` });
      } else origins.push(url.origin);
    }
    return origins;
  });

const schema = z.object({
  BALANCER_PORT: z
    .string({ error: 'required: the port to listen on' })
    .regex(/^\d{1,5}$/, PORT_RANGE)
    .transform(Number)
    .refine((port) => port >= 1 && port <= 65535, PORT_RANGE),
  BALANCER_HOST: z.string().min(1).default('127.0.0.1'),
  BALANCER_UPSTREAMS: upstreamList,
});

type BalancerEnv = z.infer<typeof schema>;

/** The balancer's settings from `env`, or the problems with them, one line each naming the variable. */
function parseBalancerEnv(env: NodeJS.ProcessEnv): { env: BalancerEnv } | { problems: string[] } {
  const parsed = schema.safeParse({
    BALANCER_PORT: env.BALANCER_PORT || undefined,
    BALANCER_HOST: env.BALANCER_HOST || undefined,
    BALANCER_UPSTREAMS: env.BALANCER_UPSTREAMS || undefined,
  });
  if (parsed.success) return { env: parsed.data };
  return {
    problems: parsed.error.issues.map((issue) => {
      const [name] = issue.path;
      return `${String(name)}: ${issue.message}`;
    }),
  };
}

function main(): void {
  const parsed = parseBalancerEnv(process.env);
  if ('problems' in parsed) {
    process.stderr.write(`invalid balancer configuration:\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  const { BALANCER_PORT: port, BALANCER_HOST: host, BALANCER_UPSTREAMS: upstreams } = parsed.env;
  const logger = createLogger('balancer');
  const server = createBalancer({ upstreams, logger });
  server.on('error', (err) => {
    logger.error({ err }, 'balancer failed');
    process.exit(1);
  });
  server.listen(port, host, () => {
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    logger.info({ host, port: bound, upstreams }, 'balancer listening');
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'balancer stopping');
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main();
