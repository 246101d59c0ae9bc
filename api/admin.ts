// Operator endpoints, behind the admin API key (X-Api-Key). Every action names its operator (X-Operator) and a
// reason, runs as a workflow signal or update (never a direct table write: the workflows move the payment through
// the state machine). The workflow that acts records the action in the payment's audit log with who, why and what
// came of it, refusals included (workflows/operator.ts `audited`), so the record survives this process dying after
// it asked. An action that does not apply is a 409 saying why.
import { timingSafeEqual } from 'node:crypto';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { type NextFunction, type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import type { z } from 'zod';
import { parseDuration } from '../config';
import { type PaymentRow, PaymentsRepository } from '../db/payments-repo';
import { operatorStartOptions, type StartConfig } from '../payments/workflows';
import {
  OPERATOR_REFUSAL,
  OPERATOR_UNAVAILABLE,
  type OperatorActionResult,
  type OperatorRequest,
  operatorRequeryUpdate,
  renotifyUpdate,
  REQUERY_NOW_MESSAGE,
  type ResolveRequest,
  requerySignal,
  resolveUpdate,
} from '../workflows/definitions';
import type { paymentOperatorWorkflow } from '../workflows/operator';
import { HttpError, NotFoundError, UnauthorizedError, UnavailableError } from './errors';
import { requireJsonBody, toPaymentResponse } from './payments';
import {
  adminListQuery,
  operatorHeader,
  type operatorActionResult,
  paymentIdParam,
  type paymentEvents,
  renotifyBody,
  requeryBody,
  resolveBody,
} from './schemas';
import { paymentHandle } from './temporal-calls';
import { parse } from './validation';

export interface AdminRouterDeps {
  db: Knex;
  temporal: Client;
  adminApiKey: string;
  /** To start a payment's operator workflow: the task queue and the payment policy. */
  config: StartConfig;
}

/** Operator actions query the channel or tell the order service (a few attempts): longer than a callback's wait. */
const OPERATOR_ACTION_DEADLINE_MS = 30_000;

export function createAdminRouter(deps: AdminRouterDeps): Router {
  const repo = new PaymentsRepository(deps.db);
  const router = Router();
  const expected = Buffer.from(deps.adminApiKey);

  router.use('/admin', (req: Request, _res: Response, next: NextFunction) => {
    const given = Buffer.from(req.get('x-api-key') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      next(new UnauthorizedError('a valid X-Api-Key header is required'));
      return;
    }
    next();
  });

  const paymentOr404 = async (id: string) => {
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
    return row;
  };

  /**
   * Runs an action (a signal or update) and answers: 2xx with what was done, 409 when the action does not apply (the
   * workflow's refusal), 503 when it could not be done now. The workflow has recorded it, whatever came of it.
   */
  const act = async (
    res: Response,
    run: () => Promise<{ status: number; body: z.infer<typeof operatorActionResult> }>,
  ) => {
    let answer;
    try {
      answer = await temporalDeadline(run);
    } catch (err) {
      throw operatorFailure(err);
    }
    res.status(answer.status).json(answer.body);
  };

  const temporalDeadline = <T>(fn: () => Promise<T>) =>
    deps.temporal.withDeadline(Date.now() + OPERATOR_ACTION_DEADLINE_MS, fn);

  /** An update on the payment's operator workflow, started if it does not run (update-with-start). */
  const onOperatorWorkflow = async <Req extends OperatorRequest>(
    row: PaymentRow,
    update: UpdateDefinition<OperatorActionResult, [Req]>,
    request: Req,
  ) => {
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof paymentOperatorWorkflow>(
      'paymentOperatorWorkflow',
      operatorStartOptions(row, deps.config),
    );
    const body = await deps.temporal.workflow.executeUpdateWithStart(update, {
      args: [request],
      startWorkflowOperation,
    });
    return { status: 200, body };
  };

  router.post('/admin/payments/:id/requery', async (req, res) => {
    requireJsonBody(req, false);
    const { id } = parse(paymentIdParam, req.params, 'path');
    const actor = parse(operatorHeader, req.get('x-operator'), 'header', 'X-Operator');
    const { reason } = parse(requeryBody, req.body ?? {}, 'body');
    const row = await paymentOr404(id);
    const request = { actor, reason: reason ?? 'asked to query the channel now' };
    await act(res, async () => {
      try {
        // Its own workflow still runs: it queries at once, and acts on the answer as it would on a scheduled one.
        await paymentHandle(deps.temporal, id).signal(requerySignal, { operator: request });
        return { status: 202, body: { paymentId: id, status: row.status, message: REQUERY_NOW_MESSAGE } };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        return onOperatorWorkflow(row, operatorRequeryUpdate, request);
      }
    });
  });

  router.post('/admin/payments/:id/renotify', async (req, res) => {
    requireJsonBody(req, true);
    const { id } = parse(paymentIdParam, req.params, 'path');
    const actor = parse(operatorHeader, req.get('x-operator'), 'header', 'X-Operator');
    const { reason } = parse(renotifyBody, req.body, 'body');
    const row = await paymentOr404(id);
    const request = { actor, reason };
    await act(res, async () => {
      try {
        const body = await paymentHandle(deps.temporal, id).executeUpdate(renotifyUpdate, { args: [request] });
        return { status: 200, body };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        return onOperatorWorkflow(row, renotifyUpdate, request);
      }
    });
  });

  router.post('/admin/payments/:id/resolve', async (req, res) => {
    requireJsonBody(req, true);
    const { id } = parse(paymentIdParam, req.params, 'path');
    const actor = parse(operatorHeader, req.get('x-operator'), 'header', 'X-Operator');
    const { action, reason } = parse(resolveBody, req.body, 'body');
    const row = await paymentOr404(id);
    const request: ResolveRequest = { actor, reason, action };
    // Whether it applies (NEEDS_REVIEW, no refund running) is the operator workflow's to say, in one place.
    await act(res, () => onOperatorWorkflow(row, resolveUpdate, request));
  });

  router.get('/admin/payments', async (req, res) => {
    const query = parse(adminListQuery, req.query, 'query');
    const olderThanMs = query.olderThan ? parseDuration(query.olderThan) : undefined;
    const rows = await repo.list({
      ...(query.status ? { status: query.status } : {}),
      ...(olderThanMs ? { createdBefore: new Date(Date.now() - olderThanMs) } : {}),
      ...(query.unacknowledged === 'true' ? { unacknowledged: true } : {}),
      limit: query.limit,
    });
    res.json({ payments: rows.map((r) => toPaymentResponse(r)), count: rows.length });
  });

  /** A payment's story in one place: the audit log (callbacks, queries, operator actions, anomalies, repairs). */
  router.get('/admin/payments/:id/events', async (req, res) => {
    const { id } = parse(paymentIdParam, req.params, 'path');
    const row = await paymentOr404(id);
    const [events, transitions] = await Promise.all([repo.listEvents(id), repo.statusHistory(id, 0)]);
    const body: z.infer<typeof paymentEvents> = {
      paymentId: id,
      status: row.status,
      events: events.map((e) => ({
        id: Number(e.id),
        at: e.received_at.toISOString(),
        source: e.source,
        type: e.type,
        channelEventId: e.channel_event_id,
        outcome: e.outcome,
        signatureValid: e.signature_valid,
        payload: e.payload,
      })),
      transitions: transitions.map((t) => ({
        status: t.status,
        resolvedBy: t.resolved_by,
        reason: t.reason,
        at: t.at.toISOString(),
      })),
    };
    res.json(body);
  });

  return router;
}

/** What a failed operator action is answered with: the workflow's refusal (409), or "not now" (503). */
function operatorFailure(err: unknown): HttpError {
  const failure =
    err instanceof WorkflowUpdateFailedError ? err.cause : err instanceof ApplicationFailure ? err : undefined;
  if (failure instanceof ApplicationFailure && failure.type === OPERATOR_REFUSAL)
    return new HttpError(409, 'action_refused', failure.message);
  if (failure instanceof ApplicationFailure && failure.type === OPERATOR_UNAVAILABLE)
    return new UnavailableError(failure.message);
  if (err instanceof HttpError) return err;
  return new UnavailableError('could not reach the payment workflows; retry');
}
