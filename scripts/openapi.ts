// npm run openapi: writes api/openapi.json from the API's zod schemas (see api/openapi.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApi } from '../api/openapi';

export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

if (require.main === module) {
  const file = join(__dirname, '..', 'api', 'openapi.json');
  writeFileSync(file, renderOpenApi());
  process.stdout.write(`wrote ${file}\n`);
}
