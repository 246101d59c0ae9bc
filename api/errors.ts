// A small family of errors that handlers throw, and the one middleware that turns them into HTTP answers.
// Only 5xx are logged (with the error); a client's mistake is answered, not logged as ours. A database that cannot
// be reached is a 503 with Retry-After wherever it happens, never a 500: the client (a channel, the shop) retries.
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class InputError extends HttpError {
  constructor(message: string, fields: FieldProblem[] = []) {
    super(400, 'invalid_request', message, fields.length > 0 ? { fields } : undefined);
  }
}
export class UnauthorizedError extends HttpError {
  constructor(message = 'unauthorized') {
    super(401, 'unauthorized', message);
  }
}
export class NotFoundError extends HttpError {
  constructor(message = 'not found') {
    super(404, 'not_found', message);
  }
}
export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}
export class UnsupportedMediaTypeError extends HttpError {
  constructor(message = 'unsupported content type') {
    super(415, 'unsupported_media_type', message);
  }
}
export class MethodNotAllowedError extends HttpError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(405, 'method_not_allowed', `${method} is not supported on ${path}; use ${allowed.join(', ')}`, undefined, {
      allow: allowed.join(', '),
    });
  }
}
/** Seconds a client should wait before retrying a 503 (RFC 9110 Retry-After). */
export const RETRY_AFTER_SECONDS = 5;
export class UnavailableError extends HttpError {
  constructor(message: string) {
    super(503, 'unavailable', message, undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) });
  }
}

// node-postgres and the OS name a connection that failed or broke by these codes.
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const CONNECTION_ERROR_MESSAGES =
  /Connection terminated|Connection ended unexpectedly|Client has encountered a connection error|timeout exceeded when trying to connect|connection timeout|Client was closed and is not queryable/i;

/**
 * True when the error says PostgreSQL could not be reached or went away, not that the query was wrong: knex's pool
 * gave up acquiring a connection (KnexTimeoutError), the connection was refused, reset or terminated, or the server
 * answered with SQLSTATE class 08 (connection exception), 57P0x (shutting down, starting up, database dropped) or
 * 53300 (too many connections). Follows `cause` and AggregateError's `errors` (a refused connect to every address).
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 4) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e.name === 'KnexTimeoutError') return true;
  if (typeof e.code === 'string') {
    if (CONNECTION_ERROR_CODES.has(e.code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(e.code) || /^57P0[0-9]$/.test(e.code) || e.code === '53300') return true;
  }
  if (typeof e.message === 'string' && CONNECTION_ERROR_MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/**
 * Express's own client errors carry a 4xx `status`: body-parser's (with a `type`) and the router's URIError for a
 * path whose percent-encoding does not decode. Answer them as the client errors they are, in our own words.
 */
function fromExpress(err: unknown): HttpError | undefined {
  const e = err as { status?: unknown; type?: unknown };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  if (e.type === 'entity.too.large') return new HttpError(413, 'payload_too_large', 'request body is too large');
  if (e.type === 'entity.parse.failed') return new InputError('request body is not valid JSON');
  if (err instanceof URIError) return new InputError('the URL path is not valid percent-encoded UTF-8');
  return new HttpError(e.status, 'bad_request', 'request could not be read');
}

/** Any thrown thing as the HTTP error it is answered with (500 for what is not ours to name). */
export function toHttpError(err: unknown): HttpError {
  const known =
    err instanceof HttpError
      ? err
      : (fromExpress(err) ??
        (isDatabaseUnavailable(err) ? new UnavailableError('the database is unavailable; retry later') : undefined));
  return known ?? new HttpError(500, 'internal', 'internal error');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return;
    res
      .status(httpError.status)
      .set(httpError.headers)
      .json({
        error: { code: httpError.code, message: httpError.message, ...(httpError.details ? httpError.details : {}) },
      });
  };
}
