// How `npm start` shows its processes' output on a terminal: one readable line per event. The services always write
// JSON lines (pino, observability/logger.ts), which is what a pipe, a log file and production get; the launcher
// (scripts/start.ts) runs their lines through this only when its own output is a terminal and NODE_ENV is not
// production. pino-pretty does the formatting; this picks what a person wants to read on one line.
import { prettyFactory } from 'pino-pretty';

/** A process's output line as shown on the terminal (its name is put in front by the caller); undefined hides it. */
export type LineFormatter = (service: string, line: string) => string | undefined;

/**
 * What goes into the message: an HTTP request's method, path, status and time (pino-http); the activity or workflow
 * a Temporal SDK line is about, and its error (the worker logs the SDK's meta as `sdk`).
 */
const MESSAGE_FORMAT = [
  '{msg}',
  '{if req.method} {req.method} {req.url}{end}',
  '{if res.statusCode} -> {res.statusCode}{end}',
  '{if responseTime} ({responseTime} ms){end}',
  '{if sdk.activityType} [{sdk.activityType} attempt {sdk.attempt}]{end}',
  '{if sdk.workflowType} [{sdk.workflowType} {sdk.workflowId}]{end}',
  '{if sdk.error.message}: {sdk.error.message}{end}',
  '{if err.message}: {err.message}{end}',
].join('');

/**
 * The rest of the object is shown as one line of JSON after the message, without what is already in the message or
 * the prefix, and without anything that must never be shown (a Temporal task token, should one get this far).
 */
const HIDDEN = ['pid', 'hostname', 'service', 'req', 'res', 'responseTime', 'sdk', 'err', 'taskToken'];

/**
 * Warnings the Temporal dev server prints for things that are not wrong in this setup. Each is explained once, in
 * place of the first one; repeats are hidden. Anything else it prints is shown as it is.
 */
const TEMPORAL_NOTES: { match: RegExp; note: (line: string) => string }[] = [
  {
    // The Web UI asks for a workflow's history in pages of 1000 events; the server caps a page at its own maximum,
    // serves it, and warns. It happens each time the UI opens a workflow.
    match: /msg="GetHistory page size is larger than threshold"/,
    note: (line) =>
      `note: the Web UI asked for workflow history in pages of ${/wf-size=(\d+)/.exec(line)?.[1] ?? 'many'} ` +
      'events, more than the server sends at once; it sends smaller pages and warns (harmless; repeats hidden)',
  },
  {
    // Started again after a while, the server skips the reconciliation runs its schedules missed while it was down
    // (one warning per missed 5-minute run): the next run sweeps everything anyway.
    match: /msg="Schedule missed catchup window"/,
    note: (line) =>
      `note: schedule ${/schedule-id=(\S+)/.exec(line)?.[1] ?? ''} missed runs while the stack was down; they are ` +
      'skipped, the next run covers them (harmless; repeats hidden)',
  },
  {
    // The dev server's built-in cluster configuration has no cluster id; it makes one at each start.
    match: /msg="Cluster Id in Cluster Metadata config is not a valid uuid/,
    note: () => "note: the dev server's built-in cluster configuration has no cluster id, so it made one (harmless)",
  },
];

export function createTerminalFormatter(options: { colors: boolean }): LineFormatter {
  const pretty = prettyFactory({
    colorize: options.colors,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    messageFormat: MESSAGE_FORMAT,
    ignore: HIDDEN.join(','),
    // An error is summed up in the message; its stack belongs in the JSON logs, not on the terminal.
    errorLikeObjectKeys: [],
  });
  const noted = new Set<RegExp>();

  return (service, line) => {
    if (service === 'temporal') {
      const known = TEMPORAL_NOTES.find((n) => n.match.test(line));
      if (!known) return line;
      if (noted.has(known.match)) return undefined;
      noted.add(known.match);
      return known.note(line);
    }
    if (!line.startsWith('{')) return line; // not JSON: a stack trace, a tool's own output
    let log: unknown;
    try {
      log = JSON.parse(line);
    } catch {
      return line;
    }
    if (typeof log !== 'object' || log === null || !('level' in log)) return line;
    // One line, whatever a message or a value holds.
    return pretty(log)
      .replace(/\s*\n\s*/g, ' ')
      .trimEnd();
  };
}
