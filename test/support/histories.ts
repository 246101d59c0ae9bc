import { join } from 'node:path';

/** Where recorded payment histories live: one directory per generation of the workflow code. */
export const HISTORIES_ROOT = join(__dirname, '..', 'histories');
/**
 * v1: before the LEANER_HISTORY patch; v2: with it; v3: with LOCAL_FIRST_NOTIFY too; v4: with LOCAL_QUERIES too.
 * RECORD_HISTORIES=1 writes the current generation.
 */
export const CURRENT_HISTORIES = 'v4';
