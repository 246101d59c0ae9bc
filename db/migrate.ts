// npm run migrate [-- latest|rollback|status]: apply or inspect migrations on DATABASE_URL.
import { loadConfigOrExit } from '../config';
import { createDb } from './knex';

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'latest';
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const db = createDb({ url: config.database.url!, poolMax: 1, applicationName: 'payments-migrate' });
  try {
    if (command === 'latest') {
      const [, applied] = (await db.migrate.latest()) as [number, string[]];
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    } else if (command === 'rollback') {
      const [, reverted] = (await db.migrate.rollback()) as [number, string[]];
      console.log(reverted.length ? `rolled back: ${reverted.join(', ')}` : 'nothing to roll back');
    } else if (command === 'status') {
      const [done, pending] = (await db.migrate.list()) as [{ name: string }[], string[]];
      console.log(`applied: ${done.map((m) => m.name).join(', ') || '-'}\npending: ${pending.join(', ') || '-'}`);
    } else {
      throw new Error(`unknown command "${command}" (latest, rollback, status)`);
    }
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
