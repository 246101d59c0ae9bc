// The payments API as the operator CLI sees it: admin calls carry the admin key and the operator's name; an error
// answer ({"error":{"code","message","fields"?}}) becomes an OperatorError carrying the API's own message.

export class OperatorError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the API answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

export interface ApiOptions {
  baseUrl: string;
  adminApiKey: string;
  /** Who acts: sent as X-Operator on every call, recorded by the API with the action. */
  operator: string;
  timeoutMs?: number;
}

/** What an action endpoint answers on success. */
export interface ActionAnswer {
  paymentId: string;
  status: string;
  message: string;
}

interface ErrorBody {
  error?: { code?: string; message?: string; fields?: { field: string; message: string }[] };
}

export class PaymentsApi {
  constructor(private readonly options: ApiOptions) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: object): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private async call<T>(method: string, path: string, body?: object): Promise<T> {
    const url = `${this.options.baseUrl.replace(/\/$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          'x-api-key': this.options.adminApiKey,
          'x-operator': this.options.operator,
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (err) {
      // undici puts the socket's error in `cause` (an AggregateError when both of localhost's addresses refused).
      const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
      const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message;
      throw new OperatorError(
        `cannot reach the payments API at ${this.options.baseUrl} (${why}): is it running? ` +
          'It is configured by API_PUBLIC_URL (default http://localhost:$API_PORT)',
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const error = (parsed as ErrorBody | undefined)?.error;
      const fields = error?.fields?.map((f) => `\n  ${f.field}: ${f.message}`).join('') ?? '';
      const message = error?.message ?? (text.slice(0, 200) || res.statusText);
      throw new OperatorError(`${method} ${path} answered ${res.status}: ${message}${fields}`, res.status);
    }
    return parsed as T;
  }
}
