// Payments: create (update-with-start, idempotent on Idempotency-Key), read (database, or the workflow live),
// push (SSE from the status history), and the buyer's cancel.
import { createHash, randomUUID } from 'node:crypto';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { Router, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { type ChannelRegistry, findChannel } from '../channels';
import { type PaymentRow, PaymentsRepository } from '../db/payments-repo';
import type { Logger } from '../observability/logger';
import { metrics } from '../observability/metrics';
import type { Config } from '../config';
import { paymentStartOptions } from '../payments/workflows';
import { cancelSignal, type PayUrlResult, payUrlUpdate, statusQuery } from '../workflows/definitions';
import type { paymentWorkflow } from '../workflows/payment';
import { isFinal } from '../workflows/states';
import { ConflictError, HttpError, NotFoundError, UnavailableError, UnsupportedMediaTypeError } from './errors';
import {
  cancelBody,
  createPaymentBody,
  idempotencyKeyHeader,
  liveQuery,
  paymentIdParam,
  type PaymentResponse,
} from './schemas';
import type { StatusFeed } from './status-feed';
import { paymentHandle, withinDeadline } from './temporal-calls';
import { parse } from './validation';

export interface PaymentsRouterDeps {
  db: Knex;
  temporal: Client;
  channels: ChannelRegistry;
  statusFeed?: StatusFeed;
  config: Pick<Config, 'temporal' | 'payments'>;
  logger: Logger;
  /** How long POST /payments waits for the channel's pay URL before answering 202 without it. */
  payUrlWaitMs?: number;
}

export function toPaymentResponse(
  row: PaymentRow,
  started?: Pick<PayUrlResult, 'payUrl' | 'handoff'>,
): PaymentResponse {
  return {
    paymentId: row.id,
    orderId: row.order_id,
    amount: row.amount,
    currency: row.currency,
    channel: row.channel,
    description: row.description,
    status: row.status,
    payUrl: started?.payUrl ?? row.pay_url,
    handoff: started?.handoff ?? row.handoff,
    resolvedBy: row.resolved_by,
    statusReason: row.status_reason,
    expiresAt: row.expires_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    paidAt: row.paid_at?.toISOString() ?? null,
    orderNotifiedAt: row.order_notified_at?.toISOString() ?? null,
  };
}

/** A body, if any, must be JSON (415 otherwise); express.json has already parsed it. */
export function requireJsonBody(req: Request, required: boolean): void {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if ((required || hasBody) && !req.is('application/json')) {
    throw new UnsupportedMediaTypeError('send the body as application/json');
  }
}

const fingerprint = (body: object) => createHash('sha256').update(JSON.stringify(body)).digest('hex');

export function createPaymentsRouter(deps: PaymentsRouterDeps): Router {
  const { temporal, config, logger } = deps;
  const repo = new PaymentsRepository(deps.db);
  const router = Router();
  const payUrlWaitMs = deps.payUrlWaitMs ?? 8000;

  /**
   * Starts the payment's workflow and asks it for the pay URL in one call (update-with-start). A retried request
   * finds the running workflow (USE_EXISTING) and gets the same answer; a finished one is never started again.
   */
  async function startWorkflow(row: PaymentRow): Promise<PayUrlResult | undefined> {
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof paymentWorkflow>('paymentWorkflow', {
      ...paymentStartOptions(row, config),
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    let update;
    try {
      update = await temporal.workflow.startUpdateWithStart(payUrlUpdate, {
        updateId: `pay-url-${row.id}`,
        waitForStage: 'ACCEPTED',
        startWorkflowOperation,
      });
    } catch (err) {
      // Already finished (and never to be started twice): the database answers.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
      logger.error({ err, paymentId: row.id }, 'could not start the payment workflow');
      throw new UnavailableError(
        'the payment is recorded but its processing could not be started; retry with the same Idempotency-Key',
      );
    }
    // The channel usually answers in milliseconds; if it is slow, answer 202 and let the client poll or listen.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), payUrlWaitMs)));
    const result = update.result();
    result.catch(() => undefined); // if we stop waiting, a later failure is not an unhandled rejection
    try {
      return await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  router.post('/payments', async (req, res) => {
    requireJsonBody(req, true);
    const key = parse(idempotencyKeyHeader, req.get('idempotency-key'), 'header', 'Idempotency-Key');
    const body = parse(createPaymentBody, req.body, 'body');
    if (!findChannel(deps.channels, body.channel)) throw new NotFoundError(`unknown payment channel "${body.channel}"`);
    // An order is paid once: a new payment for a paid order is refused (a repeat of the request that paid it, same
    // Idempotency-Key, is answered as before). Two attempts racing to pay one order are caught by the order service,
    // which refuses the second result, and that money goes back.
    if (!(await repo.findByIdempotencyKey(key))) {
      const paid = await repo.findPaidForOrder(body.orderId);
      if (paid)
        throw new HttpError(409, 'order_already_paid', `order ${body.orderId} is already paid (payment ${paid.id})`);
    }

    const { row, created } = await repo.insert({
      id: randomUUID(),
      orderId: body.orderId,
      amount: body.amount,
      currency: body.currency,
      channel: body.channel,
      ...(body.description ? { description: body.description } : {}),
      idempotencyKey: key,
      requestFingerprint: fingerprint(body),
      expiresAt: new Date(Date.now() + config.payments.expiryMs),
    });
    if (created) metrics.paymentsCreated.inc({ channel: body.channel });
    if (!created && row.request_fingerprint !== fingerprint(body)) {
      throw new ConflictError('this Idempotency-Key was already used for a different payment request');
    }
    const started = row.status === 'UNPAID' ? await startWorkflow(row) : undefined;
    const current = (await repo.get(row.id)) ?? row;
    const response = toPaymentResponse(current, started);
    res
      .status(created ? (response.payUrl || isFinal(response.status) ? 201 : 202) : 200)
      .location(`/payments/${row.id}`)
      .set(created ? {} : { 'idempotent-replayed': 'true' })
      .json(response);
  });

  router.get('/payments/:id', async (req, res) => {
    const { id } = parse(paymentIdParam, req.params, 'path');
    const { live } = parse(liveQuery, req.query, 'query');
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
    const response = toPaymentResponse(row);
    if (live === '1' || live === 'true') {
      try {
        response.live = await withinDeadline(temporal, () => paymentHandle(temporal, id).query(statusQuery));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new NotFoundError('this payment has no workflow (yet)');
        logger.warn({ err, paymentId: id }, 'live status query failed');
        throw new UnavailableError('the payment workflow did not answer; the stored state is at GET without ?live');
      }
    }
    res.json(response);
  });

  router.post('/payments/:id/cancel', async (req, res) => {
    requireJsonBody(req, false);
    const { id } = parse(paymentIdParam, req.params, 'path');
    parse(cancelBody, req.body ?? {}, 'body');
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
    if (isFinal(row.status)) throw new ConflictError(`the payment is already ${row.status}`);
    try {
      await withinDeadline(temporal, () =>
        paymentHandle(temporal, id).signal(cancelSignal, { reason: 'buyer cancelled' }),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ConflictError('the payment is no longer being processed');
      throw new UnavailableError('could not reach the payment workflow; retry');
    }
    res.status(202).json({
      paymentId: id,
      status: row.status,
      message: 'cancellation requested; paid wins if the buyer already paid',
    });
  });

  router.get('/payments/:id/events', async (req, res) => {
    const { id } = parse(paymentIdParam, req.params, 'path');
    const lastEventId = Number(req.get('last-event-id') ?? 0);
    const after = Number.isSafeInteger(lastEventId) && lastEventId > 0 ? lastEventId : 0;
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
    await streamStatus(req, res, id, after, row);
  });

  async function streamStatus(req: Request, res: Response, id: string, after: number, row: PaymentRow): Promise<void> {
    if (isFinal(row.status) && after > 0) {
      // A client that already saw the final state gets 204: EventSource stops reconnecting on it. (Awaited, so a
      // database failure here is the error middleware's 503, not an unhandled rejection.)
      const rest = await repo.statusHistory(id, after);
      if (rest.length === 0) res.status(204).end();
      else open(rest);
      return;
    }
    open();

    function open(initial?: Awaited<ReturnType<typeof repo.statusHistory>>): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      let lastSent = after;
      let closed = false;
      let queue = Promise.resolve();
      const send = (rows: Awaited<ReturnType<typeof repo.statusHistory>>) => {
        for (const r of rows) {
          if (closed || r.id <= lastSent) continue;
          const data = { paymentId: id, status: r.status, resolvedBy: r.resolved_by, at: r.at.toISOString() };
          res.write(`id: ${r.id}\nevent: status\ndata: ${JSON.stringify(data)}\n\n`);
          lastSent = r.id;
          if (isFinal(r.status)) finish();
        }
      };
      const pump = () => {
        queue = queue
          .then(async () => {
            if (!closed) send(await repo.statusHistory(id, lastSent));
          })
          .catch((err: unknown) => {
            logger.warn({ err, paymentId: id }, 'status stream read failed; closing it (the client reconnects)');
            finish();
          });
      };
      // Subscribe before the first read, so a change between the two is not missed.
      const unsubscribe = deps.statusFeed?.subscribe(id, pump);
      // Without a feed (or if a notification is lost), a slow poll still moves the stream on.
      const poll = setInterval(pump, deps.statusFeed?.listening ? 15_000 : 1000);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      function finish(): void {
        if (closed) return;
        closed = true;
        unsubscribe?.();
        clearInterval(poll);
        clearInterval(heartbeat);
        res.end();
      }
      req.on('close', finish);
      if (initial) send(initial);
      pump();
    }
  }

  return router;
}
