// Runs `temporal server start-dev` from the installed binary, with our search attributes registered, and waits
// until its frontend answers. Used by `npm start` and by the test setup.
import type { ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { allSearchAttributeKeys } from '../../workflows/definitions';
import { startReadyChild } from './ready-child';
import type { ChildSpec } from './supervisor';

export interface DevServerOptions {
  binary: string;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** The codec server the Web UI decodes payloads through (our API's /codec); omitted: none. */
  codecEndpoint?: string;
  /** SQLite file; omit for an in-memory server. */
  dbFile?: string;
  namespace?: string;
  ip?: string;
  /** Own process group: a terminal's Ctrl-C reaches only whoever started it, who then stops it in order. */
  detached?: boolean;
  /** Where the server's own log lines go; default: discarded. */
  onOutput?: (line: string) => void;
  /** Called with the server process as soon as it is spawned, before it is ready (a supervisor tracks it). */
  onSpawn?: (child: ChildProcess) => void;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const CLI_TYPES: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export function devServerArgs(options: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', options.ip ?? '127.0.0.1', '--port', String(options.port)];
  args.push('--log-level', 'warn');
  if (options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort), '--ui-disable-news-fetch');
  if (options.uiPort !== undefined && options.codecEndpoint) args.push('--ui-codec-endpoint', options.codecEndpoint);
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.namespace && options.namespace !== 'default') args.push('--namespace', options.namespace);
  for (const key of allSearchAttributeKeys) args.push('--search-attribute', `${key.name}=${CLI_TYPES[key.type]}`);
  return args;
}

/**
 * The dev server as a process a Supervisor owns: if it dies it is started again with the same options (same
 * SQLite file, ports, search attributes and UI), in its own process group.
 */
export function devServerChild(options: DevServerOptions, name = 'temporal'): ChildSpec {
  return {
    name,
    spawn: async ({ output, spawned }) => {
      const server = await startDevServer({
        ...options,
        detached: true,
        onSpawn: spawned,
        onOutput: options.onOutput ?? ((line) => output(line)),
      });
      return server.process;
    },
  };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const address = `${options.ip ?? '127.0.0.1'}:${options.port}`;
  const started = await startReadyChild({
    what: `Temporal dev server on ${address}`,
    command: options.binary,
    args: devServerArgs(options),
    detached: options.detached ?? false,
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    ready: async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: options.namespace ?? 'default' });
      } finally {
        await connection.close();
      }
    },
    stopGraceMs: 10_000,
  });
  return { address, process: started.process, stop: started.stop };
}
