// Channel callbacks become workflow signals. The rule: answer 2xx only once the callback is durably accepted
// (its event row written and the signal accepted by Temporal); answer 5xx on any failure of ours, so the channel
// retries. A 200 for a lost signal would be the worst bug this service could have.
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import express, { Router } from 'express';
import type { Knex } from 'knex';
import { type ChannelRegistry, findChannel } from '../channels';
import type { CallbackResult, CallbackVerification, PaymentChannel } from '../channels/types';
import { PaymentsRepository } from '../db/payments-repo';
import type { Logger } from '../observability/logger';
import { metrics } from '../observability/metrics';
import { sendMoneyBack } from '../payments/workflows';
import type { Config } from '../config';
import { channelCallbackSignal } from '../workflows/definitions';
import { isUnpaidFinal } from '../workflows/states';
import { paymentHandle, withinDeadline } from './temporal-calls';
import { InputError, NotFoundError, toHttpError, UnauthorizedError, UnavailableError } from './errors';
import { channelParam } from './schemas';
import { parse } from './validation';

export interface CallbacksRouterDeps {
  db: Knex;
  temporal: Client;
  channels: ChannelRegistry;
  config: Pick<Config, 'temporal' | 'payments'>;
  logger: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event log's copy of a rejected body (the repository makes it storable: NULs, lone surrogates, depth). */
function parseLoosely(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return { unparsable: true, bytes: raw.length };
  }
}

/** What the sender is told, by reason; the event log keeps the reason itself (`rejected:<reason>`). */
function rejection(verified: Extract<CallbackVerification, { ok: false }>): InputError | UnauthorizedError {
  const detail = verified.detail ? ` (${verified.detail})` : '';
  switch (verified.reason) {
    case 'malformed_body':
      return new InputError('the callback body could not be read');
    case 'missing_signature':
      return new UnauthorizedError('the callback is not signed (its signature or timestamp header is missing)');
    case 'stale_timestamp':
      return new UnauthorizedError(`the callback timestamp is outside the allowed clock skew${detail}`);
    case 'wrong_merchant':
      return new UnauthorizedError('the callback is signed for another merchant');
    case 'bad_signature':
      return new UnauthorizedError('the callback signature did not verify');
  }
}

export function createCallbacksRouter(deps: CallbacksRouterDeps): Router {
  const { temporal, logger } = deps;
  const repo = new PaymentsRepository(deps.db);
  const router = Router();

  /** Verifies, records and signals one callback; throws an HttpError for what is answered 4xx/5xx. */
  async function accept(
    channel: PaymentChannel,
    channelName: string,
    raw: Buffer,
    header: (name: string) => string | undefined,
  ): Promise<{ duplicate: boolean; outcome: string }> {
    const verified = await channel.verifyCallback(raw, header, Date.now());
    if (!verified.ok) {
      const signed = verified.reason === 'malformed_body' || verified.reason === 'wrong_merchant';
      // The answer does not depend on this record: a forgery is refused (401) even while the database is down,
      // rather than answered 503, which would invite the sender to try again.
      try {
        await repo.recordEvent({
          paymentId: null,
          channel: channelName,
          source: 'callback',
          type: 'callback',
          payload: parseLoosely(raw),
          signatureValid: signed,
          outcome: `rejected:${verified.reason}`,
        });
      } catch (err) {
        logger.error({ err, channel: channelName, reason: verified.reason }, 'could not record a rejected callback');
      }
      logger.warn({ channel: channelName, reason: verified.reason }, 'callback rejected');
      metrics.callbacks.inc({ channel: channelName, outcome: 'rejected' });
      throw rejection(verified);
    }

    if ('ignored' in verified) {
      // Genuine, but nothing a payment waits for (a refund notice, an event type we do not follow).
      const known =
        verified.paymentId && UUID.test(verified.paymentId) ? await repo.get(verified.paymentId) : undefined;
      const event = await repo.recordEvent({
        paymentId: known?.id ?? null,
        channel: channelName,
        source: 'callback',
        type: verified.ignored,
        channelEventId: verified.eventId ?? null,
        payload: verified.payload,
        signatureValid: true,
        outcome: 'ignored',
      });
      metrics.callbacks.inc({ channel: channelName, outcome: 'ignored' });
      return { duplicate: !event.inserted, outcome: 'ignored' };
    }

    const cb = verified.callback;
    const received = {
      channel: channelName,
      source: 'callback' as const,
      type: cb.eventType,
      channelEventId: cb.eventId,
      payload: verified.payload,
      signatureValid: true,
    };
    const payment = UUID.test(cb.paymentId) ? await repo.get(cb.paymentId) : undefined;
    if (!payment) {
      await repo.recordEvent({ ...received, paymentId: null, outcome: 'unknown_payment' });
      metrics.callbacks.inc({ channel: channelName, outcome: 'unknown_payment' });
      throw new NotFoundError('no such payment');
    }

    const event = await repo.recordEvent({ ...received, paymentId: payment.id, outcome: 'received' });

    // Signal even a duplicate: an earlier copy may have been recorded and then failed to reach the workflow.
    // The workflow ignores event ids it has seen.
    let outcome: 'accepted' | 'late' | 'mismatch' | 'answered_from_database';
    try {
      await withinDeadline(temporal, () =>
        paymentHandle(temporal, payment.id).signal(channelCallbackSignal, {
          eventId: cb.eventId,
          channelPaymentId: cb.channelPaymentId,
          state: cb.state,
          amount: cb.amount,
          currency: cb.currency,
          ...(cb.paidAt ? { paidAt: cb.paidAt } : {}),
          ...(cb.reason ? { reason: cb.reason } : {}),
        }),
      );
      outcome = 'accepted';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) {
        logger.error(
          { err, paymentId: payment.id },
          'callback recorded but not handed to the workflow; asking for a retry',
        );
        metrics.callbacks.inc({ channel: channelName, outcome: 'error' });
        throw new UnavailableError('the callback could not be processed now; retry');
      }
      // The workflow has finished. The database answers; a success after an unpaid final state is never dropped:
      // it is refunded (the refund workflow is started before we answer) or left for review, by policy.
      const current = (await repo.get(payment.id)) ?? payment;
      // Trusted as the workflow would: its channel payment id (when we know it), amount and currency agree. One that
      // does not is recorded for a person and the statement reconciliation, never acted on.
      const agrees =
        (!current.channel_payment_id || current.channel_payment_id === cb.channelPaymentId) &&
        cb.amount === current.amount &&
        cb.currency === current.currency;
      if (cb.state === 'SUCCESS' && isUnpaidFinal(current.status) && !agrees) {
        await repo.recordEvent({
          paymentId: payment.id,
          channel: channelName,
          source: 'system',
          type: 'anomaly:callback_mismatch',
          payload: {
            eventId: cb.eventId,
            statusBefore: current.status,
            said: { channelPaymentId: cb.channelPaymentId, amount: cb.amount, currency: cb.currency },
          },
          outcome: 'anomaly',
        });
        logger.error({ paymentId: payment.id }, 'late success that does not match the payment: left for review');
        outcome = 'mismatch';
      } else if (cb.state === 'SUCCESS' && isUnpaidFinal(current.status)) {
        let action: string;
        try {
          action = await withinDeadline(temporal, () =>
            sendMoneyBack(deps, current, 'late_success', { by: 'callback' }),
          );
        } catch (startErr) {
          logger.error({ err: startErr, paymentId: payment.id }, 'late success: its money could not be sent back now');
          throw new UnavailableError('the callback could not be processed now; retry');
        }
        await repo.recordEvent({
          paymentId: payment.id,
          channel: channelName,
          source: 'system',
          type: 'anomaly:late_success',
          payload: { eventId: cb.eventId, statusBefore: current.status, action },
          outcome: 'anomaly',
        });
        logger.error({ paymentId: payment.id, statusBefore: current.status }, 'late success after the workflow ended');
        outcome = 'late';
      } else {
        outcome = 'answered_from_database';
      }
    }
    await repo.settleEventOutcome(event.id, outcome);
    metrics.callbacks.inc({ channel: channelName, outcome: event.inserted ? outcome : 'duplicate' });
    // Anomalies found here, where no workflow runs any more (the workflow's own are counted by its activity).
    if (event.inserted && outcome === 'late') metrics.anomalies.inc({ kind: 'late_success' });
    if (event.inserted && outcome === 'mismatch') metrics.anomalies.inc({ kind: 'callback_mismatch' });
    return { duplicate: !event.inserted, outcome };
  }

  // The raw bytes are what the channel signed: no parsing (JSON, form or encrypted) before the signature is checked.
  router.post('/callbacks/:channel', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const { channel: channelName } = parse(channelParam, req.params, 'path');
    const channel = findChannel(deps.channels, channelName);
    if (!channel) throw new NotFoundError(`unknown payment channel "${channelName}"`);
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = (name: string) => req.get(name);
    if (!channel.answerCallback) {
      res.status(200).json({ received: true, ...(await accept(channel, channelName, raw, header)) });
      return;
    }
    // The channel's own words: the same decisions, answered as the channel expects (a 5xx still means "retry").
    let result: CallbackResult;
    try {
      result = { ok: true, ...(await accept(channel, channelName, raw, header)) };
    } catch (err) {
      const httpError = toHttpError(err);
      if (httpError.status >= 500) logger.error({ err, channel: channelName }, 'callback failed');
      result = { ok: false, status: httpError.status, code: httpError.code, message: httpError.message };
    }
    const answer = channel.answerCallback(result);
    res.status(answer.status).type(answer.contentType).send(answer.body);
  });

  return router;
}
