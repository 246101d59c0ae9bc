// The demo's buyer page for Stripe. A real shop confirms the PaymentIntent in the buyer's browser with Stripe.js and
// the client secret; Stripe.js cannot load here (no internet, and localstripe's copy only drives its own card form),
// so this page stands in for it: it shows the intent the client secret opens, and confirms it on the server with a
// test payment method. "Pay with test card" uses pm_card_visa (succeeds); "Decline" uses pm_card_chargeCustomerFail
// (attaches, then its charge is declined: the intent returns to requires_payment_method and can be paid again).
//
//   GET  /stripe/checkout/:paymentIntentId?client_secret=...   the page
//   POST /stripe/checkout/:paymentIntentId/pay|decline         {client_secret} (JSON or form): {status, declined?}
import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, Router } from 'express';
import Stripe from 'stripe';
import type { Logger } from 'pino';
import { formatMoney } from '../../workflows/money';
import { fromStripeAmount } from '../../channels/money';

export interface StripeCheckoutOptions {
  /** The Stripe API the intents live at (localstripe in the demo and tests). */
  apiUrl: string;
  secretKey: string;
  logger: Logger;
}

/** Stripe's test payment methods, as localstripe knows them. */
export const TEST_CARDS = { pay: 'pm_card_visa', decline: 'pm_card_chargeCustomerFail' } as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function page(intent: Stripe.PaymentIntent, clientSecret: string): string {
  const currency = intent.currency.toUpperCase();
  const amount = formatMoney(fromStripeAmount(intent.amount, currency), currency);
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe test checkout</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
.card{border:1px solid #d8dee6;border-radius:12px;padding:1.5rem;box-shadow:0 2px 8px #0001}
h1{font-size:1.2rem;margin:0 0 1rem}.amount{font-size:2rem;font-weight:600;margin:.5rem 0 1.5rem}
button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin-right:.5rem}
button:disabled{opacity:.5;cursor:default}
#pay{background:#635bff;color:#fff}#decline{background:#eef1f4;color:#1d2733}#result{margin-top:1rem;font-weight:600}</style>
</head><body><div class="card">
<h1>Stripe (test mode) &middot; checkout</h1>
<div>PaymentIntent <code>${escapeHtml(intent.id)}</code></div>
${intent.description ? `<div>${escapeHtml(intent.description)}</div>` : ''}
<div class="amount" id="amount">${escapeHtml(amount)}</div>
<div id="status" data-status="${escapeHtml(intent.status)}">Status: ${escapeHtml(intent.status)}</div>
<p><button id="pay">Pay with test card</button><button id="decline">Decline</button></p>
<div id="result"></div></div>
<script>
const id = ${json(intent.id)};
const secret = ${json(clientSecret)};
async function act(kind) {
  document.querySelectorAll('button').forEach(b => b.disabled = true);
  const res = await fetch('/stripe/checkout/' + encodeURIComponent(id) + '/' + kind, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: secret }) });
  const body = await res.json().catch(() => ({}));
  document.getElementById('result').textContent = body.status
    ? 'Stripe says: ' + body.status + (body.declined ? ' (card declined; try again)' : '')
    : 'Error: ' + (body.error || res.status);
  document.getElementById('status').dataset.status = body.status || '';
  if (body.status) document.getElementById('status').textContent = 'Status: ' + body.status;
  document.querySelectorAll('button').forEach(b => b.disabled = body.status === 'succeeded');
  // Back to the shop once paid (a declined card stays here: the buyer may try again).
  const ret = new URLSearchParams(location.search).get('return');
  if (ret && /^https?:\\/\\//.test(ret) && body.status === 'succeeded') setTimeout(() => { location.href = ret; }, 600);
}
document.getElementById('pay').onclick = () => act('pay');
document.getElementById('decline').onclick = () => act('decline');
</script></body></html>`;
}

export function createStripeCheckoutRouter(options: StripeCheckoutOptions): Router {
  const url = new URL(options.apiUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const stripe = new Stripe(options.secretKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries: 0,
    timeout: 10_000,
  });
  const router = Router();

  /** The intent, if the client secret opens it; else the answer has been sent. */
  async function open(req: Request, res: Response, clientSecret: unknown): Promise<Stripe.PaymentIntent | undefined> {
    const id = String(req.params.paymentIntentId ?? '');
    if (!/^pi_\w{1,100}$/.test(id) || typeof clientSecret !== 'string') {
      res.status(400).json({ error: 'a PaymentIntent id and its client_secret are needed' });
      return undefined;
    }
    let intent: Stripe.PaymentIntent;
    try {
      intent = await stripe.paymentIntents.retrieve(id);
    } catch (err) {
      const status = err instanceof Stripe.errors.StripeError && err.statusCode === 404 ? 404 : 502;
      res.status(status).json({ error: status === 404 ? 'no such PaymentIntent' : 'Stripe could not be reached' });
      return undefined;
    }
    // The client secret is what lets a browser act on an intent; without it, nothing is shown or done.
    if (!intent.client_secret || !sameSecret(clientSecret, intent.client_secret)) {
      res.status(403).json({ error: 'the client secret does not open this PaymentIntent' });
      return undefined;
    }
    return intent;
  }

  router.get('/stripe/checkout/:paymentIntentId', async (req, res) => {
    const intent = await open(req, res, req.query.client_secret);
    if (intent) res.type('html').send(page(intent, intent.client_secret!));
  });

  for (const action of ['pay', 'decline'] as const) {
    router.post(
      `/stripe/checkout/:paymentIntentId/${action}`,
      express.json(),
      express.urlencoded({ extended: false }),
      async (req, res) => {
        const intent = await open(req, res, (req.body as { client_secret?: unknown } | undefined)?.client_secret);
        if (!intent) return;
        try {
          const confirmed = await stripe.paymentIntents.confirm(intent.id, { payment_method: TEST_CARDS[action] });
          res.json({ id: confirmed.id, status: confirmed.status });
        } catch (err) {
          if (err instanceof Stripe.errors.StripeCardError) {
            // The decline is the buyer's outcome, not a failure of this page: the intent can be paid again.
            const after = await stripe.paymentIntents.retrieve(intent.id);
            res.json({ id: after.id, status: after.status, declined: true, code: err.code });
            return;
          }
          const status = err instanceof Stripe.errors.StripeError && err.statusCode === 400 ? 409 : 502;
          options.logger.warn({ err, paymentIntentId: intent.id, action }, 'stripe checkout could not confirm');
          res.status(status).json({
            error: err instanceof Error ? err.message : String(err),
            status: intent.status,
          });
        }
      },
    );
  }
  return router;
}
