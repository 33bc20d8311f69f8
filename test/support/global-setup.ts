import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { connectDatabase, migrate } from '../../src/db/connect.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * PGlite's initdb costs seconds per instance (tens under load); every test file needs a fresh
 * database. So initdb and migrate once, dump the data dir, and let each test load the dump.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.DATABASE_URL) {
    project.provide('pgliteTemplate', '');
    return () => {};
  }
  const database = await connectDatabase({ dataDir: 'memory://' });
  await migrate(database.db);
  const dump = await database.snapshot!();
  await database.close();
  const path = join(tmpdir(), `mailtrail-test-template-${process.pid}.tar`);
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteTemplate', path);
  return () => rmSync(path, { force: true });
}
