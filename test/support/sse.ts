// A Server-Sent Events client over fetch, for tests: collects events, can be closed, reconnects by hand with
// Last-Event-ID. Each response is checked against the OpenAPI document.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { validateResponse } from './openapi';

export interface SseConnection {
  status: number;
  events: EventSourceMessage[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
  /** Resolves once an event satisfies `predicate`. */
  waitFor(predicate: (e: EventSourceMessage) => boolean, timeoutMs?: number): Promise<EventSourceMessage>;
}

export async function openSse(url: string, lastEventId?: string): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: controller.signal,
  });
  const events: EventSourceMessage[] = [];
  const waiters: { predicate: (e: EventSourceMessage) => boolean; resolve: (e: EventSourceMessage) => void }[] = [];
  const parser = createParser({
    onEvent(event) {
      events.push(event);
      for (const w of [...waiters]) {
        if (w.predicate(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    },
  });
  const ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // aborted by close()
    }
  })();
  validateResponse('GET', url, res.status, res.status === 204 ? null : res.headers.get('content-type'), undefined);
  return {
    status: res.status,
    events,
    ended,
    close: () => controller.abort(),
    waitFor(predicate, timeoutMs = 30_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event; got ${JSON.stringify(events.map((e) => e.data))}`)),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

export const statusOf = (e: EventSourceMessage) => (JSON.parse(e.data) as { status: string }).status;
