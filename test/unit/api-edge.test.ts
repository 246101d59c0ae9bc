// The API's edge rules without a server: which errors mean "the database is unavailable" (503, not 500), what the
// event log stores of text PostgreSQL refuses, and the bounded-number patterns the document publishes.
import { KnexTimeoutError } from 'knex';
import { isDatabaseUnavailable } from '../../api/errors';
import { text, wholeNumberUpTo } from '../../api/schemas';
import { codePointLength, isWellFormed, storableJsonText } from '../../db/text';

describe('isDatabaseUnavailable', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    [
      'knex pool acquire timeout',
      new KnexTimeoutError('Knex: Timeout acquiring a connection. The pool is probably full.'),
    ],
    ['refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['reset', withCode('ECONNRESET', 'read ECONNRESET')],
    ['every address refused', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect')],
    ['cut under a query', new Error('Connection terminated unexpectedly')],
    ['connect timeout', new Error('timeout exceeded when trying to connect')],
    ['SQLSTATE 08006 connection_failure', withCode('08006')],
    ['SQLSTATE 08P01 protocol_violation', withCode('08P01')],
    ['SQLSTATE 57P01 admin_shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['SQLSTATE 57P03 cannot_connect_now', withCode('57P03', 'the database system is starting up')],
    ['SQLSTATE 53300 too_many_connections', withCode('53300')],
    ['as a cause', new Error('query failed', { cause: withCode('ECONNREFUSED') })],
  ])('%s: yes', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['NUL in text', withCode('22021', 'invalid byte sequence for encoding "UTF8": 0x00')],
    ['syntax error', withCode('42601')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('%s: no', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('text PostgreSQL can store', () => {
  it('stores NULs and lone surrogates as U+FFFD, in values and keys, and cuts what nests too deep', () => {
    expect(JSON.parse(storableJsonText({ 'k\u0000': ['a\u0000b', 'x\ud800', '\udc00y', '😀'] }))).toEqual({
      'k\ufffd': ['a\ufffdb', 'x\ufffd', '\ufffdy', '😀'],
    });
    expect(JSON.parse(storableJsonText({ at: new Date(0), n: 1, skip: undefined }))).toEqual({
      at: '1970-01-01T00:00:00.000Z',
      n: 1,
    });
    const deep = JSON.parse(`${'['.repeat(40_000)}${']'.repeat(40_000)}`) as unknown;
    expect(storableJsonText(deep)).toMatch(/nested deeper than 64 levels/);
  });

  it('counts code points and spots lone surrogates', () => {
    expect(codePointLength('😀😀')).toBe(2);
    expect(isWellFormed('😀')).toBe(true);
    expect(isWellFormed('\ud83d')).toBe(false);
    expect(isWellFormed('a\ude00')).toBe(false);
  });

  it('text(): no control characters, no blank ends when trimmed, lengths in code points', () => {
    const id = text({ min: 1, max: 3, trimmed: true });
    expect(['a', 'a b', '😀😀😀', 'é'].map((v) => id.safeParse(v).success)).toEqual([true, true, true, true]);
    const refused = ['', ' a', 'a ', '\u3000a', 'a\u0000', 'a\tb', 'a\u0085', 'abcd', '\ud800'];
    expect(refused.filter((v) => id.safeParse(v).success)).toEqual([]);
  });
});

describe('wholeNumberUpTo', () => {
  it.each([1, 7, 9, 10, 19, 100, 365, 3650, 87600, 52560])('matches exactly 1..%i, without leading zeros', (max) => {
    const pattern = new RegExp(`^${wholeNumberUpTo(max)}$`);
    const matched = Array.from({ length: max + 50 }, (_, i) => i).filter((i) => pattern.test(String(i)));
    expect(matched.length).toBe(max);
    expect([matched[0], matched[matched.length - 1]]).toEqual([1, max]);
    expect(pattern.test(`0${max}`)).toBe(false);
  });
});
