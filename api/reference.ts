// The browsable API reference: Swagger UI (from the swagger-ui-dist package, served from here: no CDN) over the same
// document as GET /openapi.json, at /docs. Only the files the page needs are served, under a strict CSP; the online
// validator badge (a call to swagger.io) is off.
import { dirname, join } from 'node:path';
import { Router } from 'express';

const dist = dirname(require.resolve('swagger-ui-dist/package.json'));

/** The files of swagger-ui-dist the page loads, by the name it loads them under. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'text/javascript',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Payment orchestration API reference</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/** `publicUrl`: where the document says the API is; "Try it out" calls it, so the page may connect there. */
export function createApiReferenceRouter(publicUrl: string): Router {
  const router = Router();
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    // Swagger UI sets style attributes from script.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src 'self' ${new URL(publicUrl).origin}`,
    "frame-ancestors 'none'",
  ].join('; ');
  router.get('/docs', (_req, res) => {
    res.set('content-security-policy', csp).type('text/html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(INIT);
  });
  for (const [name, type] of Object.entries(ASSETS)) {
    router.get(`/docs/${name}`, (_req, res, next) => {
      res.type(type).sendFile(join(dist, name), { maxAge: '1d' }, (err) => err && next(err));
    });
  }
  return router;
}
