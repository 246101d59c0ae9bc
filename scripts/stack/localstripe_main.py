"""Runs localstripe (the Stripe channel's test double) the way our stack and tests need it.

localstripe's own command listens on every interface (IPv6 `::`) and pickles its store to the fixed file
/tmp/localstripe.pickle, shared by every instance on the machine. This wrapper binds 127.0.0.1 on the given port and
keeps the store at a given path, or in memory only (no --store).

It also fills four gaps between localstripe 1.15.10 and the Stripe API our adapter (channels/stripe.ts) speaks, so the
adapter can send what real Stripe expects instead of a dialect of the double's:

1. Idempotency-Key: localstripe ignores it, so a retried create would make a second PaymentIntent. Here a POST
   carrying the header is answered once and then replayed (with `Idempotent-Replayed: true`), per API key and key;
   the same key with different parameters is refused (400 `idempotency_error`), as Stripe does.
2. `description` on PaymentIntents: localstripe refuses any parameter it does not model (400 "Unexpected").
3. Search (`GET /v1/payment_intents/search`): the query grammar's subset `metadata['k']:'v'` and `status:'v'` clauses
   joined by AND. Real Stripe's search is eventually consistent (about a minute); this one is immediate.
4. `created` range filters (gt, gte, lt, lte, together) on the charges list: localstripe implements `gt` alone.
5. Paying again after a decline: Stripe lets the buyer attach another payment method (on update, or on confirm with
   `payment_method`) and confirm again; localstripe keeps such an intent in requires_payment_method for good and
   answers 500 "Not implemented" to confirm with `payment_method`.

Usage: python localstripe_main.py --port 8420 [--store /path/to/store.pickle] [--verbose]
"""

import argparse
import hashlib
import json
import logging
import pickle
import re

from aiohttp import web

import localstripe
from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import Charge, PaymentIntent, PaymentMethod, Store, store


def keep_store_at(path):
    """The store lives at `path` (or nowhere, for None): localstripe hard-codes /tmp/localstripe.pickle."""

    def load(self):
        if path is None:
            return
        try:
            with open(path, 'rb') as f:
                old = pickle.load(f)
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump(self):
        if path is None:
            return
        with open(path, 'wb') as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    Store.try_load_from_disk = load
    Store.dump_to_disk = dump


def accept_description():
    """PaymentIntents take (and show) a `description`, as Stripe's do."""
    original = PaymentIntent.__init__

    def init(self, *args, description=None, **kwargs):
        if description is not None and type(description) is not str:
            raise UserError(400, 'Bad request')
        original(self, *args, **kwargs)
        self.description = description
        store.dump_to_disk()

    PaymentIntent.__init__ = init


def filter_created(items, created):
    """Stripe's `created` filter: an exact timestamp, or any of gt/gte/lt/lte together."""
    if created is None:
        return items
    if type(created) is str:
        created = {'eq': created}
    if type(created) is not dict or not created or \
            not set(created) <= {'eq', 'gt', 'gte', 'lt', 'lte'}:
        raise UserError(400, 'Bad request')
    try:
        bounds = {k: int(v) for k, v in created.items()}
    except (TypeError, ValueError):
        raise UserError(400, 'Bad request')
    tests = {
        'eq': lambda c, v: c == v,
        'gt': lambda c, v: c > v,
        'gte': lambda c, v: c >= v,
        'lt': lambda c, v: c < v,
        'lte': lambda c, v: c <= v,
    }
    return [i for i in items
            if all(tests[k](i.created, v) for k, v in bounds.items())]


def charges_created_range():
    """The charges list with a full `created` range (localstripe answers 500 'Not implemented' to all but `gt`)."""
    original = Charge._api_list_all.__func__

    def list_all(cls, url, customer=None, created=None, limit=10, starting_after=None):
        li = original(cls, url, customer=customer, limit=limit, starting_after=starting_after)
        li._list = filter_created(li._list, created)
        return li

    Charge._api_list_all = classmethod(list_all)


def new_attempt(intent, payment_method):
    """A new payment method on an intent whose last attempt was declined starts a new attempt, as at Stripe."""
    if type(payment_method) is not str:
        raise UserError(400, 'Bad request')
    PaymentMethod._api_retrieve(payment_method)  # 404 for an unknown one
    if intent.latest_charge is not None and intent.latest_charge.status == 'failed':
        intent.latest_charge = None


def retry_after_decline():
    original = PaymentIntent._api_update.__func__

    def update(cls, id, **data):
        if 'payment_method' in data:
            intent = cls._api_retrieve(id)
            if intent.status not in ('requires_payment_method', 'requires_confirmation'):
                raise UserError(400, 'Bad request')
            new_attempt(intent, data['payment_method'])
        return original(cls, id, **data)

    PaymentIntent._api_update = classmethod(update)


@web.middleware
async def confirm_middleware(request, handler):
    # localstripe's confirm route was bound at import and refuses `payment_method`: confirm with one here.
    m = re.match(r'^/v1/payment_intents/(pi_\w+)/confirm$', request.path)
    if request.method != 'POST' or not m:
        return await handler(request)
    data = await server.get_post_data(request) or {}
    payment_method = data.pop('payment_method', None)
    if payment_method is None:
        return await handler(request)
    expand = data.pop('expand', None)
    if data:
        raise UserError(400, 'Unexpected ' + ', '.join(data.keys()))
    intent = PaymentIntent._api_retrieve(m.group(1))
    if intent.status not in ('requires_payment_method', 'requires_confirmation'):
        raise UserError(400, 'Bad request')
    new_attempt(intent, payment_method)
    intent.payment_method = payment_method
    try:
        intent._confirm(on_failure_now=intent._report_failure)
    finally:
        store.dump_to_disk()
    return server.json_response(intent._export(expand=expand))


SEARCH_CLAUSE = re.compile(r"""^\s*(metadata\['([^'\\]+)'\]|status)\s*:\s*'([^'\\]*)'\s*$""")


def search_payment_intents(query, limit):
    """The subset of Stripe's search grammar the adapter uses: `metadata['k']:'v'` / `status:'v'`, AND-joined."""
    if type(query) is not str or not query.strip():
        raise UserError(400, 'Missing required param: query.')
    tests = []
    for clause in re.split(r'\s+AND\s+', query.strip()):
        m = SEARCH_CLAUSE.match(clause)
        if not m:
            raise UserError(400, 'This double supports only metadata[\'key\']:\'value\' and status:\'value\' '
                                 'clauses joined by AND, not: %s' % clause)
        field, key, value = m.group(1), m.group(2), m.group(3)
        if key is not None:
            tests.append(lambda pi, key=key, value=value: (pi.metadata or {}).get(key) == value)
        else:
            tests.append(lambda pi, value=value: pi.status == value)
    found = [pi for k, pi in store.items()
             if k.startswith('payment_intent:') and all(t(pi) for t in tests)]
    found.sort(key=lambda pi: pi.created, reverse=True)
    limit = int(limit) if limit is not None else 10
    return {
        'object': 'search_result',
        'url': '/v1/payment_intents/search',
        'has_more': len(found) > limit,
        'next_page': None,
        'data': [pi._export() for pi in found[:limit]],
    }


@web.middleware
async def search_middleware(request, handler):
    # Routing already sent this path to /v1/payment_intents/{id}; answer it here, before that handler runs.
    if request.method == 'GET' and request.path == '/v1/payment_intents/search':
        data = server.unflatten_data(request.query)
        return server.json_response(search_payment_intents(data.get('query'), data.get('limit')))
    return await handler(request)


# Keys seen: (API key, Idempotency-Key) -> (request fingerprint, status, body). Stripe keeps them 24 h; this double
# keeps them for its lifetime (a test run or a demo).
_idempotent = {}


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get('Idempotency-Key')
    if request.method != 'POST' or not key:
        return await handler(request)
    body = await request.read()  # aiohttp keeps the bytes: the handler reads them again
    scope = (request.headers.get('Authorization', ''), key)
    fingerprint = hashlib.sha256(request.path.encode() + b'\0' + body).hexdigest()
    seen = _idempotent.get(scope)
    if seen is not None:
        if seen[0] != fingerprint:
            return server.json_response({'error': {
                'type': 'idempotency_error',
                'message': 'Keys for idempotent requests can only be used with the same parameters they were '
                           'first used with.'}}, status=400)
        response = web.Response(status=seen[1], body=seen[2], content_type='application/json')
        response.headers['Idempotent-Replayed'] = 'true'
        return response
    try:
        response = await handler(request)
    except UserError as e:
        response = e.to_response()
    # Stripe replays what it answered, errors included, except its own failures (5xx), which a retry may mend.
    if response.status < 500 and isinstance(response, web.Response) and response.body is not None:
        _idempotent[scope] = (fingerprint, response.status, bytes(response.body))
    return response


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--store', help='pickle file for the store; default: memory only')
    parser.add_argument('--verbose', action='store_true', help='log requests and webhook deliveries to stderr')
    args = parser.parse_args()

    keep_store_at(args.store)
    accept_description()
    charges_created_range()
    retry_after_decline()
    store.try_load_from_disk()

    # Inside localstripe's own (error, auth, save-store): requests are authenticated before being searched or replayed.
    server.app.middlewares.append(search_middleware)
    server.app.middlewares.append(confirm_middleware)
    server.app.middlewares.append(idempotency_middleware)

    logger = logging.getLogger('aiohttp.access')
    if args.verbose:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logging.StreamHandler())
    # The launcher waits for this line (and then for an answer) before using the server.
    print('localstripe %s listening on http://%s:%d' % (localstripe.__version__, args.host, args.port), flush=True)
    web.run_app(server.app, host=args.host, port=args.port, access_log=logger if args.verbose else None,
                print=None)


if __name__ == '__main__':
    main()
