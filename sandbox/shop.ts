// The demo shop: the article's client flow, end to end, in a browser. Pick an item and a way to pay; a page channel
// (SandboxPay) sends the buyer to its wallet page, a QR channel (WeChat Pay Native, Alipay precreate) shows the QR
// code on the order page (the emulators' codes are their wallet pages' URLs, so the link beside it pays too), Stripe
// sends the buyer to the test checkout page; the buyer pays or declines and comes back to an order page that turns
// "Paid" by itself through our push stream (Server-Sent Events from the payments API), falling back to polling.
//   GET  /shop                      the catalogue and the channel choice
//   POST /shop/checkout             creates the order here, asks the payments API for a payment, answers the hand-off
//   GET  /shop/orders/{orderId}     the order page (?payment=<paymentId>), with the QR code for a QR channel
import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import type { Knex } from 'knex';
import QRCode from 'qrcode';
import type { Logger } from '../observability/logger';
import { FINAL_STATUSES } from '../workflows/states';

export interface ShopOptions {
  db: Knex;
  /** Where this backend reaches the payments API. */
  paymentsApiUrl: string;
  /** Where the buyer's browser reaches it (default: the same). */
  browserApiUrl?: string;
  /** Where the browser reaches this shop (for the wallet's return link). */
  publicUrl: string;
  /** The channels the payments API has, in the order the buyer sees them (default: SandboxPay only). */
  channels?: string[];
  logger: Logger;
}

const CATALOGUE = [
  { sku: 'tea', name: 'Longjing green tea, 250 g', amount: 2599, currency: 'CNY' },
  { sku: 'cup', name: 'Celadon tea cup', amount: 8800, currency: 'CNY' },
];

const page = (title: string, body: string, script = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
h1{font-size:1.4rem}.item{display:flex;justify-content:space-between;align-items:center;border:1px solid #d8dee6;
border-radius:10px;padding:1rem;margin:.7rem 0}button{font-size:1rem;padding:.6rem 1.1rem;border-radius:8px;border:0;
background:#1f6feb;color:#fff;cursor:pointer}.status{font-size:2rem;font-weight:700;margin:1rem 0}
fieldset{border:1px solid #d8dee6;border-radius:10px;margin:.7rem 0}.channel{margin-right:1rem;white-space:nowrap}
#qr{margin:1rem 0}.Paid{color:#1a7f37}.Failed,.Closed,.Cancelled{color:#cf222e}.Waiting{color:#9a6700}.muted{color:#57606a;font-size:.9rem}
</style></head><body>${body}<script>${script}</script></body></html>`;

const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency}`;

/** How the buyer sees each channel's name. */
const CHANNEL_LABELS: Record<string, string> = {
  sandboxpay: 'SandboxPay',
  wechatpay: 'WeChat Pay',
  alipay: 'Alipay',
  stripe: 'Card (Stripe)',
};
const label = (channel: string) => CHANNEL_LABELS[channel] ?? channel;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The payments API's hand-off, as far as the shop reads it. */
interface Handoff {
  kind: string;
  url?: string;
  codeUrl?: string;
  pageUrl?: string;
}

/** Where the buyer's browser goes after checkout: the channel's page, or our order page (which shows a QR code). */
function nextUrl(handoff: Handoff | undefined, payUrl: string | undefined, orderUrl: string): string {
  const back = (page: string) => `${page}${page.includes('?') ? '&' : '?'}return=${encodeURIComponent(orderUrl)}`;
  if (handoff?.kind === 'qr_code') return orderUrl;
  const page = handoff?.kind === 'redirect' ? handoff.url : (handoff?.pageUrl ?? payUrl);
  return page ? back(page) : orderUrl;
}

export function createShopRouter(options: ShopOptions): Router {
  const router = Router();

  // In the order buyers expect them (the labels' order), any channel we have no label for last.
  const order = Object.keys(CHANNEL_LABELS);
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  const channels = options.channels?.length ? [...options.channels].sort((a, b) => rank(a) - rank(b)) : ['sandboxpay'];

  router.get('/shop', (_req, res) => {
    const items = CATALOGUE.map(
      (i) => `<div class="item"><div><b>${i.name}</b><div class="muted">${money(i.amount, i.currency)}</div></div>
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
        'Demo shop',
        `<h1>Demo tea shop</h1><fieldset id="channels"><legend>Pay with</legend>${choices}</fieldset>${items}<p id="error" class="muted"></p>`,
        `document.querySelectorAll('button[data-sku]').forEach((b) => b.onclick = async () => {
          b.disabled = true;
          const channel = document.querySelector('input[name=channel]:checked').value;
          const res = await fetch('/shop/checkout', { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sku: b.dataset.sku, channel }) });
          const body = await res.json();
          if (!res.ok) { document.getElementById('error').textContent = 'Checkout failed: ' + (body.error || res.status); b.disabled = false; return; }
          location.href = body.next;
        });`,
      ),
    );
  });

  router.post('/shop/checkout', express.json({ limit: '4kb' }), async (req, res) => {
    const body = req.body as { sku?: unknown; channel?: unknown } | undefined;
    const item = CATALOGUE.find((i) => i.sku === body?.sku);
    if (!item) {
      res.status(400).json({ error: 'unknown item' });
      return;
    }
    const channel = body?.channel ?? channels[0];
    if (typeof channel !== 'string' || !channels.includes(channel)) {
      res.status(400).json({ error: 'unknown payment channel' });
      return;
    }
    const orderId = `shop-${randomUUID().slice(0, 8)}`;
    await options
      .db('order_service.orders')
      .insert({ order_id: orderId, amount: item.amount, currency: item.currency, description: item.name });
    // The order id is the idempotency key: a retried checkout gets the same payment.
    const created = await fetch(`${options.paymentsApiUrl}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `checkout-${orderId}` },
      body: JSON.stringify({ orderId, amount: item.amount, currency: item.currency, channel }),
    });
    const payment = (await created.json()) as { paymentId?: string; payUrl?: string | null; handoff?: Handoff | null };
    if (!created.ok || !payment.handoff) {
      options.logger.warn({ orderId, status: created.status }, 'checkout could not get what the buyer pays with');
      res.status(502).json({ error: 'the payment service did not say how to pay; try again' });
      return;
    }
    const orderUrl = `${options.publicUrl}/shop/orders/${orderId}?payment=${payment.paymentId}`;
    res.json({
      orderId,
      paymentId: payment.paymentId,
      payUrl: payment.payUrl,
      handoff: payment.handoff,
      orderUrl,
      next: nextUrl(payment.handoff, payment.payUrl ?? undefined, orderUrl),
    });
  });

  router.get('/shop/orders/:orderId', async (req, res) => {
    const order = await options.db('order_service.orders').where({ order_id: req.params.orderId }).first();
    if (!order) {
      res.status(404).type('text/plain').send('no such order');
      return;
    }
    // A QR channel's code is shown here, where the buyer waits: scanned by the wallet app (or, with the emulators,
    // opened by the link below it, since their codes are their wallet pages' URLs).
    let qr = '';
    const paymentId = typeof req.query.payment === 'string' ? req.query.payment : '';
    if (/^[0-9a-f-]{36}$/i.test(paymentId)) {
      const found = await fetch(`${options.paymentsApiUrl}/payments/${paymentId}`).catch(() => undefined);
      const payment = found?.ok ? ((await found.json()) as { channel: string; handoff?: Handoff | null }) : undefined;
      if (payment?.handoff?.kind === 'qr_code' && payment.handoff.codeUrl) {
        const svg = await QRCode.toString(payment.handoff.codeUrl, { type: 'svg', margin: 1, width: 200 });
        const here = `${options.publicUrl}${req.originalUrl}`;
        const open =
          payment.handoff.pageUrl ?? (/^https?:/.test(payment.handoff.codeUrl) ? payment.handoff.codeUrl : '');
        qr = `<div id="qr" data-code-url="${escapeHtml(payment.handoff.codeUrl)}">
          <p>Scan with ${escapeHtml(label(payment.channel))} to pay</p>${svg}
          ${open ? `<p><a id="open-wallet" href="${escapeHtml(`${open}${open.includes('?') ? '&' : '?'}return=${encodeURIComponent(here)}`)}">Open the wallet on this device</a></p>` : ''}
        </div>`;
      }
    }
    res.type('html').send(
      page(
        `Order ${order.order_id}`,
        `<h1>Your order</h1><div>${order.description ?? order.order_id}: ${money(Number(order.amount), order.currency)}</div>
        <div id="status" class="status Waiting" data-status="PAYING">Waiting for payment…</div>${qr}
        <div id="via" class="muted">connecting…</div>`,
        `const api = ${JSON.stringify(options.browserApiUrl ?? options.paymentsApiUrl)};
        const paymentId = new URLSearchParams(location.search).get('payment');
        const words = { UNPAID: 'Waiting for payment…', PAYING: 'Waiting for payment…', SUCCESS: 'Paid', FAILED: 'Failed',
          CLOSED: 'Closed', CANCELLED: 'Cancelled', REFUNDING: 'Refunding', REFUNDED: 'Refunded', NEEDS_REVIEW: 'Being checked' };
        const final = ${JSON.stringify(FINAL_STATUSES)};
        let done = false, polling = null;
        window.statusHistory = [];
        function show(status, how) {
          window.statusHistory.push(status + ' by ' + how);
          const el = document.getElementById('status');
          const word = words[status] || status;
          el.textContent = word; el.dataset.status = status;
          el.className = 'status ' + (status === 'SUCCESS' ? 'Paid' : final.includes(status) ? word : 'Waiting');
          document.getElementById('via').textContent = 'updated by ' + how;
          if (final.includes(status)) { done = true; if (polling) clearInterval(polling); document.getElementById('qr')?.remove(); }
        }
        function poll() {
          if (polling || done) return;
          document.getElementById('via').textContent = 'push stream lost; checking every 2 s';
          const tick = async () => {
            try { const r = await fetch(api + '/payments/' + paymentId); if (r.ok) show((await r.json()).status, 'polling'); } catch {}
          };
          polling = setInterval(tick, 2000); tick();
        }
        const stream = new EventSource(api + '/payments/' + paymentId + '/events');
        stream.addEventListener('status', (e) => show(JSON.parse(e.data).status, 'push'));
        stream.onopen = () => { if (!done) document.getElementById('via').textContent = 'listening for updates (push)'; };
        stream.onerror = () => { if (done) { stream.close(); return; } stream.close(); poll(); };`,
      ),
    );
  });

  return router;
}
