// Checks real HTTP responses against the committed OpenAPI document: the operation must exist, the status must be
// documented for it, and a JSON body must match the documented schema.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type PathItem = Record<string, Operation>;

export const openApiDocument = JSON.parse(readFileSync(join(__dirname, '..', '..', 'api', 'openapi.json'), 'utf8')) as {
  paths: Record<string, PathItem>;
};

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...openApiDocument, $id: 'openapi.json' });

const templates = Object.keys(openApiDocument.paths).map((template) => ({
  template,
  regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

/** Operations seen so far as "METHOD /template status", for the coverage check. */
export const exercised = new Set<string>();

export function validateResponse(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: unknown,
): void {
  const path = new URL(url).pathname;
  const match = templates.find((t) => t.regex.test(path));
  if (!match) throw new Error(`${method} ${path}: not in the OpenAPI document`);
  const operation = openApiDocument.paths[match.template]![method.toLowerCase()];
  if (!operation) throw new Error(`${method} ${match.template}: no such operation in the OpenAPI document`);
  const response = operation.responses[String(status)];
  if (!response) throw new Error(`${method} ${match.template}: status ${status} is not documented`);
  exercised.add(`${method.toUpperCase()} ${match.template} ${status}`);
  const media = contentType?.split(';')[0]?.trim();
  if (!response.content) {
    if (body !== undefined && body !== '')
      throw new Error(`${method} ${match.template} ${status}: documented without a body`);
    return;
  }
  if (!media || !response.content[media]) {
    throw new Error(`${method} ${match.template} ${status}: content type ${media} is not documented`);
  }
  if (media !== 'application/json') return;
  const pointer = `openapi.json#/paths/${match.template.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
  const validate = ajv.getSchema(pointer) ?? ajv.compile({ $ref: pointer });
  if (!validate(body)) {
    throw new Error(
      `${method} ${match.template} ${status}: body does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
    );
  }
}

/** fetch + response validation; returns the parsed JSON body (or text). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are read field by field
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | undefined = options.raw;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const body = contentType?.includes('json') && text ? JSON.parse(text) : text;
  validateResponse(method, `${base}${path}`, res.status, text ? contentType : null, text ? body : undefined);
  return { status: res.status, headers: res.headers, body };
}
