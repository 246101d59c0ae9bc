// The demo shop: the article's client flow, end to end, in a browser, reading like a real checkout. Pick an item and
// a way to pay; a page channel (SandboxPay) sends the buyer to its wallet page, a QR channel (WeChat Pay Native,
// Alipay precreate) shows the QR code on the order page (the emulators' codes are their wallet pages' URLs, so the
// link beside it pays too), Stripe sends the buyer to the test checkout page. The order page follows the payment by
// itself (the payments API's push stream, GET /payments/{id}/events; polling with backoff while the stream is down,
// and back to the stream as soon as it answers again) and shows what a buyer needs: the item and the merchant, the
// time left to pay, the way back to the wallet and a cancel while open; why a payment was declined and a "try again"
// (a new payment attempt for the same order); "buy again" once the order closed; a receipt once paid.
//   GET  /shop                            the catalogue and the channel choice
//   POST /shop/checkout                   {sku, channel}: a new order, its first payment, the hand-off
//   GET  /shop/orders/{orderId}           the order page (?payment=<paymentId>)
//   POST /shop/orders/{orderId}/retry     {payment}: a declined payment's order gets a new attempt (same channel)
//   POST /shop/orders/{orderId}/cancel    {payment}: the buyer gives up (POST /payments/{id}/cancel on the API)
// Every address the buyer's browser is sent to is built from the address it reached the shop at (its Host header),
// unless `publicUrl` says otherwise, so the demo works from another host.
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { formatMoney } from '../workflows/money';
import { FINAL_STATUSES } from '../workflows/states';
import { DEMO_MERCHANT_NAME } from './wallet';

export interface ShopOptions {
  db: Knex;
  /** Where this backend reaches the payments API. */
  paymentsApiUrl: string;
  /** Where the buyer's browser reaches it (default: the same). */
  browserApiUrl?: string;
  /** Where the browser reaches this shop (default: the address the request came to). */
  publicUrl?: string;
  /** The channels the payments API has, in the order the buyer sees them (default: SandboxPay only). */
  channels?: string[];
  /** The shop's name on its pages and receipts (default: the sandbox merchant's registered name). */
  merchantName?: string;
  logger: Logger;
}

const CATALOGUE = [
  { sku: 'tea', name: 'Longjing green tea, 250 g', amount: 2599, currency: 'CNY' },
  { sku: 'cup', name: 'Celadon tea cup', amount: 8800, currency: 'CNY' },
];

const page = (title: string, body: string, script = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2.5rem auto;padding:0 1rem;color:#1d2733}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
.item{display:flex;justify-content:space-between;align-items:center;border:1px solid #d8dee6;border-radius:10px;
padding:1rem;margin:.7rem 0}button,.button{font-size:1rem;padding:.6rem 1.1rem;border-radius:8px;border:0;
background:#1f6feb;color:#fff;cursor:pointer;text-decoration:none;display:inline-block;margin:.3rem .5rem .3rem 0}
button:disabled{opacity:.5;cursor:default}.secondary{background:#eef1f4;color:#1d2733}
.status{font-size:1.8rem;font-weight:700;margin:1rem 0 .3rem}
fieldset{border:1px solid #d8dee6;border-radius:10px;margin:.7rem 0}.channel{margin-right:1rem;white-space:nowrap}
#qr{margin:1rem 0}.Paid{color:#1a7f37}.Ended{color:#cf222e}.Waiting{color:#9a6700}.muted{color:#57606a;font-size:.9rem}
.merchant{color:#57606a;margin:0}.line{display:flex;justify-content:space-between;font-size:1.05rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0}dt{color:#57606a}dd{margin:0}
.note{margin:.4rem 0 .8rem}[hidden]{display:none!important}
</style></head><body>${body}<script>${script}</script></body></html>`;

/** How the buyer sees each channel's name. */
const CHANNEL_LABELS: Record<string, string> = {
  sandboxpay: 'SandboxPay',
  wechatpay: 'WeChat Pay',
  alipay: 'Alipay',
  stripe: 'Card (Stripe)',
};
const label = (channel: string) => CHANNEL_LABELS[channel] ?? channel;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** A value for a page's script: JSON that cannot close the script element. */
const scriptValue = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/** The payments API's hand-off, as far as the shop reads it. */
interface Handoff {
  kind: string;
  url?: string;
  codeUrl?: string;
  pageUrl?: string;
}

/** GET /payments/{id}, as far as the shop reads it. */
interface PaymentView {
  paymentId: string;
  orderId: string;
  channel: string;
  status: string;
  statusReason?: string | null;
  expiresAt: string;
  paidAt: string | null;
  payUrl?: string | null;
  handoff?: Handoff | null;
}

/** A page the buyer pays on, with the way back to the order page. */
const withReturn = (page: string, orderUrl: string) =>
  `${page}${page.includes('?') ? '&' : '?'}return=${encodeURIComponent(orderUrl)}`;

/** The page a browser can pay on, if any: the redirect, else the hand-off's page (or a QR code that is a page). */
function walletUrl(handoff: Handoff | null | undefined, payUrl?: string | null): string | undefined {
  if (handoff?.kind === 'redirect') return handoff.url;
  if (handoff?.pageUrl) return handoff.pageUrl;
  if (handoff?.kind === 'qr_code' && handoff.codeUrl && /^https?:/.test(handoff.codeUrl)) return handoff.codeUrl;
  return payUrl ?? undefined;
}

/** Where the buyer's browser goes after checkout: the channel's page, or our order page (which shows a QR code). */
function nextUrl(handoff: Handoff | undefined, payUrl: string | undefined, orderUrl: string): string {
  if (handoff?.kind === 'qr_code') return orderUrl;
  const page = walletUrl(handoff, payUrl);
  return page ? withReturn(page, orderUrl) : orderUrl;
}

const idBody = z.object({ payment: z.uuid({ message: 'must be a payment id (UUID)' }) }).strict();
const checkoutBody = z.object({ sku: z.string().max(32), channel: z.string().max(32).optional() }).strict();

export function createShopRouter(options: ShopOptions): Router {
  const router = Router();
  const merchant = options.merchantName ?? DEMO_MERCHANT_NAME;
  const api = options.paymentsApiUrl;

  // In the order buyers expect them (the labels' order), any channel we have no label for last.
  const order = Object.keys(CHANNEL_LABELS);
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  const channels = options.channels?.length ? [...options.channels].sort((a, b) => rank(a) - rank(b)) : ['sandboxpay'];

  /** Where the buyer's browser reached us: the base of every address we send it to. */
  const origin = (req: Request) => options.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
  const orderUrl = (req: Request, orderId: string, paymentId: string) =>
    `${origin(req)}/shop/orders/${encodeURIComponent(orderId)}?payment=${encodeURIComponent(paymentId)}`;

  async function getPayment(paymentId: string): Promise<PaymentView | undefined> {
    const found = await fetch(`${api}/payments/${paymentId}`, { signal: AbortSignal.timeout(5000) }).catch(
      () => undefined,
    );
    return found?.ok ? ((await found.json()) as PaymentView) : undefined;
  }

  /**
   * Asks the payments API for a payment of the order and answers the hand-off (or the error the buyer sees). The
   * Idempotency-Key names the attempt: a retried request for the same attempt gets the same payment.
   */
  async function startPayment(
    req: Request,
    res: Response,
    o: {
      orderId: string;
      item: { amount: number; currency: string; name?: string | null };
      channel: string;
      attemptKey: string;
    },
  ): Promise<void> {
    const created = await fetch(`${api}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': o.attemptKey },
      body: JSON.stringify({
        orderId: o.orderId,
        amount: o.item.amount,
        currency: o.item.currency,
        channel: o.channel,
        // What the buyer's wallet shows: the item, not our ids.
        ...(o.item.name ? { description: o.item.name } : {}),
      }),
      signal: AbortSignal.timeout(15_000),
    }).catch(() => undefined);
    const payment = created
      ? ((await created.json().catch(() => ({}))) as {
          paymentId?: string;
          payUrl?: string | null;
          handoff?: Handoff | null;
          detail?: string;
        })
      : {};
    if (created?.status === 409) {
      res.status(409).json({ error: payment.detail ?? 'this order cannot be paid again' });
      return;
    }
    if (!created?.ok || !payment.handoff || !payment.paymentId) {
      options.logger.warn(
        { orderId: o.orderId, status: created?.status },
        'checkout could not get what the buyer pays with',
      );
      res.status(502).json({ error: 'the payment service did not say how to pay; try again' });
      return;
    }
    const url = orderUrl(req, o.orderId, payment.paymentId);
    res.json({
      orderId: o.orderId,
      paymentId: payment.paymentId,
      payUrl: payment.payUrl,
      handoff: payment.handoff,
      orderUrl: url,
      next: nextUrl(payment.handoff, payment.payUrl ?? undefined, url),
    });
  }

  router.get('/shop', (_req, res) => {
    const items = CATALOGUE.map(
      (i) => `<div class="item"><div><b>${i.name}</b><div class="muted">${formatMoney(i.amount, i.currency)}</div></div>
      <button data-sku="${i.sku}">Buy</button></div>`,
    ).join('');
    const choices = channels
      .map(
        (c, n) =>
          `<label class="channel"><input type="radio" name="channel" value="${escapeHtml(c)}"${n === 0 ? ' checked' : ''}> ${escapeHtml(label(c))}</label>`,
      )
      .join(' ');
    res.type('html').send(
      page(
        escapeHtml(merchant),
        `<p class="merchant">${escapeHtml(merchant)}</p><h1>Our teas</h1><fieldset id="channels"><legend>Pay with</legend>${choices}</fieldset>${items}<p id="error" class="muted"></p>`,
        `document.querySelectorAll('button[data-sku]').forEach((b) => b.onclick = async () => {
          b.disabled = true;
          const channel = document.querySelector('input[name=channel]:checked').value;
          const res = await fetch('/shop/checkout', { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sku: b.dataset.sku, channel }) }).catch(() => undefined);
          const body = res ? await res.json().catch(() => ({})) : {};
          if (!res || !res.ok) { document.getElementById('error').textContent = 'We could not start the payment: ' + (body.error || 'try again'); b.disabled = false; return; }
          location.href = body.next;
        });`,
      ),
    );
  });

  router.post('/shop/checkout', express.json({ limit: '4kb' }), async (req, res) => {
    const body = checkoutBody.safeParse(req.body ?? {});
    const item = body.success ? CATALOGUE.find((i) => i.sku === body.data.sku) : undefined;
    if (!item) {
      res.status(400).json({ error: 'unknown item', field: 'sku' });
      return;
    }
    const channel = body.data?.channel ?? channels[0]!;
    if (!channels.includes(channel)) {
      res.status(400).json({ error: 'unknown payment channel', field: 'channel' });
      return;
    }
    const orderId = `shop-${randomUUID().slice(0, 8)}`;
    await options
      .db('order_service.orders')
      .insert({ order_id: orderId, amount: item.amount, currency: item.currency, description: item.name });
    // The order's first attempt: a retried checkout request gets the same payment.
    await startPayment(req, res, { orderId, item, channel, attemptKey: `checkout-${orderId}` });
  });

  /** The order and one of its payments, from a buyer's action; else the 4xx has been sent. */
  async function orderAndPayment(
    req: Request,
    res: Response,
  ): Promise<
    | { order: { order_id: string; amount: number; currency: string; name: string | null }; payment: PaymentView }
    | undefined
  > {
    const body = idBody.safeParse(req.body ?? {});
    if (!body.success) {
      res.status(400).json({ error: 'payment: must be a payment id (UUID)', field: 'payment' });
      return undefined;
    }
    const order = await options.db('order_service.orders').where({ order_id: req.params.orderId }).first();
    const payment = order ? await getPayment(body.data.payment) : undefined;
    if (!order || !payment || payment.orderId !== order.order_id) {
      res.status(404).json({ error: 'no such order or payment' });
      return undefined;
    }
    return {
      order: {
        order_id: order.order_id,
        amount: Number(order.amount),
        currency: order.currency,
        name: order.description as string | null,
      },
      payment,
    };
  }

  router.post('/shop/orders/:orderId/retry', express.json({ limit: '1kb' }), async (req, res) => {
    const found = await orderAndPayment(req, res);
    if (!found) return;
    if (found.payment.status !== 'FAILED') {
      res.status(409).json({ error: 'only a declined payment is tried again' });
      return;
    }
    // A new attempt for the same order: a fresh Idempotency-Key, named after the attempt it replaces, so that a
    // double click does not start two.
    await startPayment(req, res, {
      orderId: found.order.order_id,
      item: found.order,
      channel: found.payment.channel,
      attemptKey: `retry-${found.payment.paymentId}`,
    });
  });

  router.post('/shop/orders/:orderId/cancel', express.json({ limit: '1kb' }), async (req, res) => {
    const found = await orderAndPayment(req, res);
    if (!found) return;
    const answer = await fetch(`${api}/payments/${found.payment.paymentId}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'the buyer cancelled the order' }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (answer?.status === 202) res.status(202).json({ ok: true });
    else if (answer?.status === 409) res.status(409).json({ error: 'this payment can no longer be cancelled' });
    else res.status(502).json({ error: 'we could not cancel just now; try again' });
  });

  router.get('/shop/orders/:orderId', async (req, res) => {
    const order = await options.db('order_service.orders').where({ order_id: req.params.orderId }).first();
    if (!order) {
      res.status(404).type('text/plain').send('no such order');
      return;
    }
    const paymentId = typeof req.query.payment === 'string' ? req.query.payment : '';
    const found = /^[0-9a-f-]{36}$/i.test(paymentId) ? await getPayment(paymentId) : undefined;
    const payment = found?.orderId === order.order_id ? found : undefined;
    const here = orderUrl(req, order.order_id, paymentId);
    const amount = formatMoney(Number(order.amount), order.currency);
    const item = CATALOGUE.find((i) => i.name === order.description);

    // A QR channel's code is shown here, where the buyer waits: scanned by the wallet app (or, with the emulators,
    // opened by the link, since their codes are their wallet pages' URLs).
    let qr = '';
    if (payment?.handoff?.kind === 'qr_code' && payment.handoff.codeUrl) {
      const svg = await QRCode.toString(payment.handoff.codeUrl, { type: 'svg', margin: 1, width: 200 });
      qr = `<div id="qr" data-code-url="${escapeHtml(payment.handoff.codeUrl)}">
          <p>Scan with ${escapeHtml(label(payment.channel))} to pay</p>${svg}</div>`;
    }
    const wallet = payment ? walletUrl(payment.handoff, payment.payUrl) : undefined;
    const backLabel = qr ? 'Open the wallet on this device' : `Back to ${label(payment?.channel ?? '')}`;
    res.type('html').send(
      page(
        `Order ${escapeHtml(order.order_id)} · ${escapeHtml(merchant)}`,
        `<p class="merchant">${escapeHtml(merchant)}</p><h1>Your order</h1>
        <div class="line"><span id="item">${escapeHtml(order.description ?? order.order_id)}</span><b id="total">${escapeHtml(amount)}</b></div>
        <div class="muted">Order ${escapeHtml(order.order_id)}${payment ? ` · paying with ${escapeHtml(label(payment.channel))}` : ''}</div>
        <div id="status" class="status Waiting" data-status="${escapeHtml(payment?.status ?? '')}">${payment ? 'Waiting for your payment' : 'Checking your payment…'}</div>
        <p id="note" class="note muted"></p>
        <section id="open" hidden>${qr}
          ${wallet ? `<a id="back-to-wallet" class="button" href="${escapeHtml(withReturn(wallet, here))}">${escapeHtml(backLabel)}</a>` : ''}
          <button id="cancel" class="secondary">Cancel order</button></section>
        <section id="declined" hidden><button id="retry">Try again</button>
          <a class="button secondary" href="/shop">Back to the shop</a></section>
        <section id="ended" hidden>${item ? `<button id="buy-again">Buy again</button>` : ''}
          <a class="button secondary" href="/shop">Back to the shop</a></section>
        <section id="receipt" hidden><h2>Receipt</h2><dl>
          <dt>Item</dt><dd>${escapeHtml(order.description ?? order.order_id)}</dd>
          <dt>Merchant</dt><dd>${escapeHtml(merchant)}</dd>
          <dt>Amount</dt><dd id="receipt-amount">${escapeHtml(amount)}</dd>
          <dt>Paid with</dt><dd id="receipt-channel">${escapeHtml(label(payment?.channel ?? ''))}</dd>
          <dt>Paid at</dt><dd id="receipt-paid-at"></dd>
          <dt>Payment reference</dt><dd id="receipt-reference"><code>${escapeHtml(payment?.paymentId ?? '')}</code></dd>
        </dl><p><a class="button secondary" href="/shop">Back to the shop</a></p></section>
        <p id="error" class="muted"></p>`,
        orderScript({
          api: options.browserApiUrl ?? api,
          orderId: order.order_id,
          paymentId: payment?.paymentId ?? paymentId,
          payment: payment ?? null,
          sku: item?.sku ?? null,
          channel: payment?.channel ?? null,
        }),
      ),
    );
  });

  return router;
}

/** The buyer's status words, and what the page tells them beside each. */
const WORDS: Record<string, string> = {
  UNPAID: 'Waiting for your payment',
  PAYING: 'Waiting for your payment',
  SUCCESS: 'Paid',
  FAILED: 'Payment declined',
  CLOSED: 'Expired',
  CANCELLED: 'Cancelled',
  REFUNDING: 'Being refunded',
  REFUNDED: 'Refunded',
  NEEDS_REVIEW: 'We are checking your payment',
};

/**
 * The order page's script. It follows the payment on the push stream; when the stream fails it closes it, polls
 * (every 2 s, backing off to 30 s) and tries the stream again (after 1 s, backing off to 15 s), and the moment the
 * stream answers it stops polling. `window.live` says how it is following (for the browser test), never the page.
 */
function orderScript(init: {
  api: string;
  orderId: string;
  paymentId: string;
  payment: PaymentView | null;
  sku: string | null;
  channel: string | null;
}): string {
  return `const init = ${scriptValue(init)};
const words = ${scriptValue(WORDS)};
const final = ${scriptValue(FINAL_STATUSES)};
const $ = (id) => document.getElementById(id);
let current = init.payment, done = false, stream = null, pollTimer = null, pollDelay = 2000, reconnectTimer = null, reconnectDelay = 1000, clock = null;
window.statusHistory = [];
window.live = { mode: 'connecting', polls: 0, streams: 0 };
const two = (n) => String(n).padStart(2, '0');
function countdown() {
  if (!current || done || !current.expiresAt) return;
  const left = Math.max(0, Date.parse(current.expiresAt) - Date.now());
  const s = Math.ceil(left / 1000);
  $('note').textContent = left > 0
    ? 'Pay within ' + Math.floor(s / 60) + ':' + two(s % 60) + ' or the order closes.'
    : 'Time is up: closing the order…';
  $('note').dataset.left = String(s);
}
function render(p) {
  current = p;
  const status = p.status;
  const el = $('status');
  el.textContent = words[status] || status; el.dataset.status = status;
  el.className = 'status ' + (status === 'SUCCESS' ? 'Paid' : final.includes(status) ? 'Ended' : 'Waiting');
  const open = !final.includes(status);
  $('open').hidden = !open;
  $('declined').hidden = status !== 'FAILED';
  $('ended').hidden = status !== 'CLOSED' && status !== 'CANCELLED';
  $('receipt').hidden = status !== 'SUCCESS';
  if (open) { countdown(); if (!clock) clock = setInterval(countdown, 1000); return; }
  done = true; clearInterval(clock); stopPolling(); clearTimeout(reconnectTimer);
  if (stream) { stream.close(); stream = null; }
  const note = {
    SUCCESS: 'Thank you! Your payment went through.',
    FAILED: 'Your payment did not go through' + (p.statusReason ? ': ' + p.statusReason + '.' : ', and you have not been charged. You can try again.'),
    CLOSED: 'The time to pay ran out, so this order was closed. Nothing was charged.',
    CANCELLED: 'You cancelled this order. Nothing was charged.',
    REFUNDING: 'Your payment arrived after the order had closed; it is being refunded.',
    REFUNDED: 'Your payment arrived after the order had closed; it has been refunded.',
    NEEDS_REVIEW: 'Your payment arrived after the order had closed; we are looking into it and will be in touch.',
  }[status] || '';
  $('note').textContent = note;
  delete $('note').dataset.left;
  if (status === 'SUCCESS') $('receipt-paid-at').textContent = new Date(p.paidAt || Date.now()).toLocaleString();
}
/** A status from the stream or a poll: the details of a final one (paid time, reason) come from the payment. */
async function show(status, how) {
  window.statusHistory.push(status + ' by ' + how);
  if (done || (current && current.status === status)) return;
  let p = Object.assign({}, current || {}, { status });
  if (final.includes(status)) {
    // Settled: nothing more to follow (the stream ends now, and that is no reason to poll).
    done = true; stopPolling(); clearTimeout(reconnectTimer);
    if (stream) { stream.close(); stream = null; }
    const r = await fetch(init.api + '/payments/' + init.paymentId).catch(() => undefined);
    if (r && r.ok) p = Object.assign(p, await r.json(), { status });
  }
  render(p);
}
function stopPolling() { clearTimeout(pollTimer); pollTimer = null; }
function poll() {
  if (pollTimer || done) return;
  const tick = async () => {
    window.live.polls++;
    try { const r = await fetch(init.api + '/payments/' + init.paymentId); if (r.ok) { const p = await r.json(); window.statusHistory.push(p.status + ' by polling'); if (!done && (!current || current.status !== p.status)) render(p); } } catch {}
    if (done || window.live.mode === 'push') { pollTimer = null; return; }
    pollDelay = Math.min(pollDelay * 1.5, 30000);
    pollTimer = setTimeout(tick, pollDelay);
  };
  pollDelay = 2000;
  pollTimer = setTimeout(tick, 0);
}
function connect() {
  if (done || !init.paymentId) return;
  window.live.streams++;
  stream = new EventSource(init.api + '/payments/' + init.paymentId + '/events');
  stream.addEventListener('status', (e) => show(JSON.parse(e.data).status, 'push'));
  stream.onopen = () => { window.live.mode = 'push'; reconnectDelay = 1000; stopPolling(); };
  stream.onerror = () => {
    if (stream) stream.close();
    stream = null;
    if (done) return;
    window.live.mode = 'polling';
    poll();
    reconnectTimer = setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 15000);
  };
}
async function post(path, body, button) {
  button.disabled = true; $('error').textContent = '';
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
  const answer = res ? await res.json().catch(() => ({})) : {};
  if (!res || !res.ok) { $('error').textContent = answer.error || 'Something went wrong; try again.'; button.disabled = false; return undefined; }
  return answer;
}
$('cancel').onclick = async () => {
  const ok = await post('/shop/orders/' + encodeURIComponent(init.orderId) + '/cancel', { payment: init.paymentId }, $('cancel'));
  if (ok) $('note').textContent = 'Cancelling your order…';
};
$('retry').onclick = async () => {
  const next = await post('/shop/orders/' + encodeURIComponent(init.orderId) + '/retry', { payment: init.paymentId }, $('retry'));
  if (next) location.href = next.next;
};
if ($('buy-again')) $('buy-again').onclick = async () => {
  const next = await post('/shop/checkout', { sku: init.sku, channel: init.channel }, $('buy-again'));
  if (next) location.href = next.next;
};
if (init.payment) render(init.payment);
connect();`;
}
