// Cross-process push: one LISTEN connection per API process hears `payment_status` notifications (sent by the
// status-history trigger at commit, whoever changed the row) and wakes the SSE streams of that payment. After a
// lost connection it reconnects and wakes every stream, which re-read the history, so nothing is missed.
import pg from 'pg';
import type { Logger } from '../observability/logger';

type Wake = () => void;

export class StatusFeed {
  private client: pg.Client | undefined;
  private readonly subscribers = new Map<string, Set<Wake>>();
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'payments-api-listen' });
    client.on('notification', (msg) => {
      try {
        const { paymentId } = JSON.parse(msg.payload ?? '{}') as { paymentId?: string };
        if (paymentId) this.wake(paymentId);
      } catch {
        this.logger.warn('unreadable payment_status notification');
      }
    });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      if (this.stopped) return;
      this.logger.warn({ err: err?.message }, 'status feed connection lost; reconnecting');
      this.retryTimer = setTimeout(() => void this.reconnect(), 1000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query('listen payment_status');
    this.client = client;
  }

  private async reconnect(): Promise<void> {
    try {
      await this.start();
      for (const id of this.subscribers.keys()) this.wake(id); // catch up on anything sent while away
    } catch (err) {
      if (!this.stopped) {
        this.logger.warn({ err: (err as Error).message }, 'status feed reconnect failed; retrying');
        this.retryTimer = setTimeout(() => void this.reconnect(), 2000);
      }
    }
  }

  private wake(paymentId: string): void {
    for (const fn of this.subscribers.get(paymentId) ?? []) fn();
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  subscribe(paymentId: string, wake: Wake): () => void {
    let set = this.subscribers.get(paymentId);
    if (!set) this.subscribers.set(paymentId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0) this.subscribers.delete(paymentId);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
