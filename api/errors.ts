// A small family of errors that handlers throw, and the one middleware that turns them into HTTP answers.
// Only 5xx are logged (with the error); a client's mistake is answered, not logged as ours.
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
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
export class UnavailableError extends HttpError {
  constructor(message: string) {
    super(503, 'unavailable', message);
  }
}

/** Express's own body-parser errors carry `status` and `type`; answer them as the client errors they are. */
function fromBodyParser(err: unknown): HttpError | undefined {
  const e = err as { status?: number; type?: string };
  if (typeof e?.status !== 'number' || typeof e.type !== 'string') return undefined;
  if (e.type === 'entity.too.large') return new HttpError(413, 'payload_too_large', 'request body is too large');
  if (e.type === 'entity.parse.failed') return new InputError('request body is not valid JSON');
  if (e.status >= 400 && e.status < 500) return new HttpError(e.status, 'bad_request', 'request could not be read');
  return undefined;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof HttpError ? err : fromBodyParser(err);
    const httpError = known ?? new HttpError(500, 'internal', 'internal error');
    if (httpError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return;
    res.status(httpError.status).json({
      error: { code: httpError.code, message: httpError.message, ...(httpError.details ? httpError.details : {}) },
    });
  };
}
