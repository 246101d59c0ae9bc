import { ConfigError, loadConfig } from '../../config';

/** The problems the configuration module names for `env` (one line each), or none when it accepts it. */
export function problemsOf(env: Record<string, string>, options?: Parameters<typeof loadConfig>[1]): string[] {
  try {
    loadConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
