import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/**
 * An in-memory DuckDB for the KPI oracle (bench/kpiSql.ts): two threads, and UTC as the time zone,
 * since a listen time without an offset is UTC. Close the connection from afterAll.
 */
export async function kpiOracle(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run("SET threads = 2; SET TimeZone = 'UTC'");
  return conn;
}
