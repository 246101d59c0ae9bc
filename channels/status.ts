// A channel's status word as our state, one rule for every adapter: a word we know maps by its table (own entries
// only: "constructor" is not a status); one we do not know counts as the cautious state (pending: the next query
// tells) and is logged as an error, since it means the channel speaks a word we were not told of.
import type { Logger } from '../observability/logger';

export function stateOfWord<S extends string>(
  words: Readonly<Record<string, S>>,
  word: string | null | undefined,
  fallback: NoInfer<S>,
  report: { logger: Logger; channel: string; what: string; context?: Record<string, unknown> },
): S {
  if (word != null && Object.hasOwn(words, word)) return words[word]!;
  report.logger.error(
    { channel: report.channel, ...report.context, channelStatus: word },
    `unknown ${report.what}, treated as ${fallback}`,
  );
  return fallback;
}
