// Operator endpoints, behind the admin API key (X-Api-Key).
import { timingSafeEqual } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type NextFunction, type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import { PaymentsRepository } from '../db/payments-repo';
import { parseDuration } from '../config';
import { requerySignal } from '../workflows/definitions';
import { ConflictError, NotFoundError, UnauthorizedError, UnavailableError } from './errors';
import { toPaymentResponse, requireJsonBody } from './payments';
import { adminListQuery, paymentIdParam, type paymentEvents } from './schemas';
import type { z } from 'zod';
import { paymentHandle, withinDeadline } from './temporal-calls';
import { parse } from './validation';

export interface AdminRouterDeps {
  db: Knex;
  temporal: Client;
  adminApiKey: string;
}

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

  router.post('/admin/payments/:id/requery', async (req, res) => {
    requireJsonBody(req, false);
    const { id } = parse(paymentIdParam, req.params, 'path');
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
    try {
      await withinDeadline(deps.temporal, () =>
        paymentHandle(deps.temporal, id).signal(requerySignal, { requestedBy: 'admin-api' }),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ConflictError('the payment workflow has finished');
      throw new UnavailableError('could not reach the payment workflow; retry');
    }
    res.status(202).json({ paymentId: id, status: row.status, message: 'the workflow will query the channel now' });
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
    const row = await repo.get(id);
    if (!row) throw new NotFoundError('no such payment');
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
      transitions: transitions.map((t) => ({ status: t.status, resolvedBy: t.resolved_by, at: t.at.toISOString() })),
    };
    res.json(body);
  });

  return router;
}
