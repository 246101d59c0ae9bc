// The commands README.md's "Operating it" section shows, taken from the file itself, so the tests that run them
// (test/integration/operator-*.test.ts) and the README cannot drift apart: every shell line of its ```sh blocks, and
// every filter of its list-filter table (run as the section says: `npm run temporal -- workflow list --query`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReadmeCommand {
  /** The line as written in the README (comment removed). */
  text: string;
  /** For a filter: the table row's question and note, which say what the times in it are. */
  row?: string;
}

const README = join(__dirname, '..', '..', 'README.md');

export function operatingSection(readme = readFileSync(README, 'utf8')): string {
  const start = readme.indexOf('\n## Operating it\n');
  if (start < 0) throw new Error('README.md has no "## Operating it" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The shell lines of the section's ```sh blocks, without their trailing comments. */
export function operatingShellCommands(section = operatingSection()): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) {
      const text = line.replace(/\s+#\s.*$/, '').trim();
      if (text && !text.startsWith('#')) commands.push({ text });
    }
  }
  return commands;
}

/** The list filters of the section's table, each as the command the section says to run it with. */
export function operatingFilters(section = operatingSection()): ReadmeCommand[] {
  const filters: ReadmeCommand[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split(/\s\|\s/);
    if (!line.startsWith('|') || cells.length < 2) continue;
    const match = /`([^`]+)`(.*)$/.exec(cells[1]!);
    if (!match || !/=|\bIN\b/.test(match[1]!)) continue;
    filters.push({
      text: `npm run temporal -- workflow list --query "${match[1]}"`,
      row: `${cells[0]!.replace(/^\|\s*/, '').trim()} ${match[2]!.replace(/\|\s*$/, '').trim()}`,
    });
  }
  return filters;
}

/** Everything the section shows an operator to run. */
export function operatingCommands(): ReadmeCommand[] {
  const section = operatingSection();
  return [...operatingShellCommands(section), ...operatingFilters(section)];
}

/**
 * The actions whose endpoints arrive with the core engineer's branch (renotify, resolve): run by
 * operator-cli-actions.test.ts; every other command by operator-queries.test.ts.
 */
export const isPostMergeAction = (c: ReadmeCommand) => /^npm run payments -- (renotify|resolve)\b/.test(c.text);
