import type { z } from 'zod';
import { InputError } from './errors';

/**
 * Parses `value` or throws a 400 naming every offending field, prefixed with where it came from
 * (`body.orderId`, `query.olderThan`, `path.id`, `header.Idempotency-Key`); `name` names a single value.
 */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'path' | 'header',
  name?: string,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => {
    const path = [name, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return { field: [where, path].filter(Boolean).join('.'), message: `unknown field(s): ${issue.keys.join(', ')}` };
    }
    return { field: [where, path].filter(Boolean).join('.'), message: issue.message };
  });
  throw new InputError(`invalid ${where}`, fields);
}
