import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { args, median, record } from './benchSupport.js';

/**
 * The measurement behind the results store's driver choice: `libsql` against `better-sqlite3`
 * (same API) on the store's heaviest write and read: inserting 2M user charts in one transaction
 * into a WAL database, then 200k lookups by (date, user), with and without a memory map.
 * better-sqlite3 is not a dependency (it compiles from source here); install it beside:
 *
 *   npm install --prefix /tmp/bs better-sqlite3@12   # time this: the install-time half
 *   node dist/bench/sqliteDrivers.js --better-sqlite3 /tmp/bs/node_modules/better-sqlite3 [--users 2000000] [--runs 3]
 */
interface Driver {
  new (
    file: string,
  ): {
    exec(sql: string): unknown;
    prepare(sql: string): {
      run(...params: unknown[]): unknown;
      raw(): { get(...params: unknown[]): unknown };
    };
    transaction(fn: () => void): () => void;
    close(): void;
  };
}

const options = args({
  usage: 'node dist/bench/sqliteDrivers.js [options]',
  about: "libsql against better-sqlite3 on the results store's heaviest write and read.",
  options: {
    'better-sqlite3': { value: 'PATH', help: 'an installed better-sqlite3 package to compare with' },
    users: { value: 'N', help: 'user charts inserted (default 2000000)' },
    runs: { value: 'R', help: 'rounds (default 3)' },
    dir: { value: 'DIR', help: 'where the databases are written (default /tmp)' },
    record: { help: 'write the table into the bench:sqlite-drivers block of docs/BENCHMARKS.md' },
  },
});
const users = Number(options.get('users') ?? 2_000_000);
const runs = Number(options.get('runs') ?? 3);
const require = createRequire(import.meta.url);
const drivers: [string, Driver][] = [['libsql', require('libsql') as Driver]];
if (options.has('better-sqlite3'))
  drivers.push(['better-sqlite3', require(options.get('better-sqlite3')!) as Driver]);
const chart = Array.from({ length: 50 }, (_, i) => `${1_000_000 + i * 7919}:${50 - i}`).join(',');

function measure(
  Database: Driver,
  file: string,
): { insertS: number; lookupUs: number; mmapLookupUs: number } {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const db = new Database(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec(
    'CREATE TABLE user_charts (date TEXT NOT NULL, user_id INTEGER NOT NULL, chart TEXT NOT NULL, PRIMARY KEY (date, user_id)) WITHOUT ROWID',
  );
  const insert = db.prepare('INSERT INTO user_charts VALUES (?, ?, ?)');
  let started = performance.now();
  db.transaction(() => {
    for (let u = 1; u <= users; u++) insert.run('2024-01-07', u, chart);
  })();
  const insertS = (performance.now() - started) / 1000;
  const lookups = (): number => {
    const get = db.prepare('SELECT chart FROM user_charts WHERE date = ? AND user_id = ?').raw();
    for (let i = 0; i < 20_000; i++) get.get('2024-01-07', 1 + ((i * 7919) % users)); // warm
    started = performance.now();
    for (let i = 0; i < 200_000; i++) get.get('2024-01-07', 1 + ((i * 104_729) % users));
    return ((performance.now() - started) * 1000) / 200_000;
  };
  const lookupUs = lookups();
  db.exec('PRAGMA mmap_size = 4294967296');
  const mmapLookupUs = lookups();
  db.close();
  console.error(`bench: ${file}: ${Math.round(statSync(file).size / 2 ** 20)} MB`);
  return { insertS, lookupUs, mmapLookupUs };
}

const rows: string[] = [];
const results = new Map<string, ReturnType<typeof measure>[]>();
for (let r = 0; r < runs; r++) {
  for (const [name, Database] of drivers) {
    const m = measure(Database, join(options.get('dir') ?? '/tmp', `sqlite-driver-${name}.db`));
    console.error(
      `bench: ${name} run ${r + 1}: insert ${m.insertS.toFixed(1)} s, lookup ${m.lookupUs.toFixed(1)} us, mmap ${m.mmapLookupUs.toFixed(1)} us`,
    );
    results.set(name, [...(results.get(name) ?? []), m]);
  }
}
for (const [name, ms] of results) {
  rows.push(
    `| ${name} | ${median(ms.map((m) => m.insertS)).toFixed(1)} s | ${median(ms.map((m) => m.lookupUs)).toFixed(1)} us | ${median(ms.map((m) => m.mmapLookupUs)).toFixed(1)} us |`,
  );
}
const report = [
  `Insert ${users.toLocaleString('en-US')} user charts (50 songs each) in one transaction into a WAL database, then ` +
    `200k lookups by (date, user); medians of ${runs} runs, the drivers interleaved.`,
  `Command: \`node dist/bench/sqliteDrivers.js --better-sqlite3 <path> --users ${users} --runs ${runs}\``,
  '',
  '| driver | insert | lookup | lookup, mmap |',
  '|---|---|---|---|',
  ...rows,
].join('\n');
process.stdout.write(`${report}\n`);
if (options.has('record')) record('sqlite-drivers', report);
