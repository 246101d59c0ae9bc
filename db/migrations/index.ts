// Migrations are listed here instead of discovered on disk, so they load the same way under tsx, ts-jest and
// compiled JavaScript. Add a new file with a timestamped name and append it below; never edit an applied one.
import type { Knex } from 'knex';
import * as m20261125000001 from './20261125000001_payments';
import * as m20261125000002 from './20261125000002_status_history';
import * as m20261127000001 from './20261127000001_handoff';
import * as m20261127000002 from './20261127000002_review_and_reasons';
import * as m20261128000001 from './20261128000001_event_keys';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '20261125000001_payments': m20261125000001,
  '20261125000002_status_history': m20261125000002,
  '20261127000001_handoff': m20261127000001,
  '20261127000002_review_and_reasons': m20261127000002,
  '20261128000001_event_keys': m20261128000001,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
