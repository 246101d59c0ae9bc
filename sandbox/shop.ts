// The demo shop: the article's client flow, end to end, in a browser. Pick an item, pay with SandboxPay, land on
// the wallet page (Pay / Decline), come back to an order page that turns "Paid" by itself through our push stream
// (Server-Sent Events from the payments API), falling back to polling when the stream drops.
//   GET  /shop                      the catalogue
//   POST /shop/checkout             creates the order here, asks the payments API for a payment, answers the pay URL
//   GET  /shop/orders/{orderId}     the order page (?payment=<paymentId>)
import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import type { Knex } from 'knex';
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
.Paid{color:#1a7f37}.Failed,.Closed,.Cancelled{color:#cf222e}.Waiting{color:#9a6700}.muted{color:#57606a;font-size:.9rem}
</style></head><body>${body}<script>${script}</script></body></html>`;

const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency}`;

export function createShopRouter(options: ShopOptions): Router {
  const router = Router();

  router.get('/shop', (_req, res) => {
    const items = CATALOGUE.map(
      (i) => `<div class="item"><div><b>${i.name}</b><div class="muted">${money(i.amount, i.currency)}</div></div>
      <button data-sku="${i.sku}">Buy with SandboxPay</button></div>`,
    ).join('');
    res.type('html').send(
      page(
        'Demo shop',
        `<h1>Demo tea shop</h1>${items}<p id="error" class="muted"></p>`,
        `document.querySelectorAll('button[data-sku]').forEach((b) => b.onclick = async () => {
          b.disabled = true;
          const res = await fetch('/shop/checkout', { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sku: b.dataset.sku }) });
          const body = await res.json();
          if (!res.ok) { document.getElementById('error').textContent = 'Checkout failed: ' + (body.error || res.status); b.disabled = false; return; }
          location.href = body.payUrl + '?return=' + encodeURIComponent(body.orderUrl);
        });`,
      ),
    );
  });

  router.post('/shop/checkout', express.json({ limit: '4kb' }), async (req, res) => {
    const item = CATALOGUE.find((i) => i.sku === (req.body as { sku?: string } | undefined)?.sku);
    if (!item) {
      res.status(400).json({ error: 'unknown item' });
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
      body: JSON.stringify({ orderId, amount: item.amount, currency: item.currency, channel: 'sandboxpay' }),
    });
    const payment = (await created.json()) as { paymentId?: string; payUrl?: string };
    if (!created.ok || !payment.payUrl) {
      options.logger.warn({ orderId, status: created.status }, 'checkout could not get a pay URL');
      res.status(502).json({ error: 'the payment service did not give a pay URL; try again' });
      return;
    }
    res.json({
      orderId,
      paymentId: payment.paymentId,
      payUrl: payment.payUrl,
      orderUrl: `${options.publicUrl}/shop/orders/${orderId}?payment=${payment.paymentId}`,
    });
  });

  router.get('/shop/orders/:orderId', async (req, res) => {
    const order = await options.db('order_service.orders').where({ order_id: req.params.orderId }).first();
    if (!order) {
      res.status(404).type('text/plain').send('no such order');
      return;
    }
    res.type('html').send(
      page(
        `Order ${order.order_id}`,
        `<h1>Your order</h1><div>${order.description ?? order.order_id}: ${money(Number(order.amount), order.currency)}</div>
        <div id="status" class="status Waiting" data-status="PAYING">Waiting for payment…</div>
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
          if (final.includes(status)) { done = true; if (polling) clearInterval(polling); }
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
