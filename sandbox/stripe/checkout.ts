// The demo's buyer page for Stripe, as a buyer reads a checkout: the merchant, what is bought, the amount, one status
// in words and, after a decline, Stripe's reason (last_payment_error.message). A real shop confirms the PaymentIntent
// in the buyer's browser with Stripe.js and the client secret; Stripe.js cannot load here (no internet, and localstripe's copy only drives its own card form),
// so this page stands in for it: it shows the intent the client secret opens, and confirms it on the server with a
// test payment method. "Pay with test card" uses pm_card_visa (succeeds); "Decline" uses pm_card_chargeCustomerFail
// (attaches, then its charge is declined: the intent returns to requires_payment_method and can be paid again).
//
//   GET  /stripe/checkout/:paymentIntentId?client_secret=...   the page
//   POST /stripe/checkout/:paymentIntentId/pay|decline         {client_secret} (JSON or form):
//                                                              {status, declined?, message? (why it was declined)}
import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, Router } from 'express';
import Stripe from 'stripe';
import type { Logger } from 'pino';
import { formatMoney } from '../../workflows/money';
import { fromStripeAmount } from '../../channels/money';
import { DEMO_MERCHANT_NAME } from '../wallet';

export interface StripeCheckoutOptions {
  /** The Stripe API the intents live at (localstripe in the demo and tests). */
  apiUrl: string;
  secretKey: string;
  /** The account's business name, shown to the buyer (default: the sandbox merchant's). */
  merchantName?: string;
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

/** PaymentIntent statuses, as the buyer reads them. */
const STATUS_WORDS: Record<string, string> = {
  requires_payment_method: 'Enter a card to pay',
  requires_confirmation: 'Ready to pay',
  requires_action: 'Your bank needs you to confirm',
  processing: 'Processing your payment',
  requires_capture: 'Paid (being captured)',
  succeeded: 'Paid',
  canceled: 'This payment has closed',
};

function page(intent: Stripe.PaymentIntent, clientSecret: string, merchantName: string): string {
  const currency = intent.currency.toUpperCase();
  const amount = formatMoney(fromStripeAmount(intent.amount, currency), currency);
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  const open = intent.status !== 'succeeded' && intent.status !== 'canceled';
  const declined = intent.last_payment_error?.message;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay ${escapeHtml(merchantName)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
.card{border:1px solid #d8dee6;border-radius:12px;padding:1.5rem;box-shadow:0 2px 8px #0001}
.wallet{font-size:.85rem;color:#57606a;margin:0 0 1rem}h1{font-size:1.25rem;margin:0}.item{color:#57606a;margin:.2rem 0 0}
.amount{font-size:2rem;font-weight:600;margin:.8rem 0 1rem}
button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin-right:.5rem}
button:disabled{opacity:.5;cursor:default}#status{font-weight:600}.ended{color:#cf222e}.paid{color:#1a7f37}
#pay{background:#635bff;color:#fff}#decline{background:#eef1f4;color:#1d2733}</style>
</head><body><div class="card">
<p class="wallet">Stripe (test mode) checkout</p>
<h1 id="merchant">${escapeHtml(merchantName)}</h1>
${intent.description ? `<p class="item" id="item">${escapeHtml(intent.description)}</p>` : ''}
<div class="amount" id="amount">${escapeHtml(amount)}</div>
<p id="status" data-status="${escapeHtml(intent.status)}" class="${declined ? 'ended' : ''}">${escapeHtml(declined ? `${declined} Try another card.` : (STATUS_WORDS[intent.status] ?? intent.status))}</p>
${open ? '<p><button id="pay">Pay with test card</button><button id="decline">Use a card that is declined</button></p>' : ''}
</div>
<script>
const id = ${json(intent.id)};
const secret = ${json(clientSecret)};
const words = ${json(STATUS_WORDS)};
async function act(kind) {
  document.querySelectorAll('button').forEach(b => b.disabled = true);
  const res = await fetch('/stripe/checkout/' + encodeURIComponent(id) + '/' + kind, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: secret }) });
  const body = await res.json().catch(() => ({}));
  const el = document.getElementById('status');
  const ret = new URLSearchParams(location.search).get('return');
  const back = ret && /^https?:\\/\\//.test(ret) && body.status === 'succeeded';
  el.textContent = body.status
    ? (body.declined ? (body.message || 'Your card was declined.') + ' Try another card.' : (words[body.status] || body.status) + (back ? '. Taking you back to the shop…' : ''))
    : 'We could not reach Stripe just now; try again.';
  el.dataset.status = body.status || '';
  el.className = body.declined ? 'ended' : body.status === 'succeeded' ? 'paid' : '';
  document.querySelectorAll('button').forEach(b => b.disabled = body.status === 'succeeded');
  // Back to the shop once paid (a declined card stays here: the buyer may try again).
  if (back) setTimeout(() => { location.href = ret; }, 900);
}
document.getElementById('pay')?.addEventListener('click', () => act('pay'));
document.getElementById('decline')?.addEventListener('click', () => act('decline'));
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
    if (intent) res.type('html').send(page(intent, intent.client_secret!, options.merchantName ?? DEMO_MERCHANT_NAME));
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
            res.json({
              id: after.id,
              status: after.status,
              declined: true,
              code: err.code,
              message: after.last_payment_error?.message ?? err.message,
            });
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
