import type { Command } from 'commander';
import { plural, thousands } from '../ops/counts.js';
import { PlaytallyError } from '../ops/errors.js';
import type { DynamoSink, SinkDayResult } from '../sinks/dynamoSink.js';

export interface SinkCliOptions {
  sink?: string;
  createTable?: boolean;
}

/** `--sink dynamodb://TABLE` and `--create-table`, on the commands that write charts or KPIs. */
export function withSinkOptions(command: Command, what: string): Command {
  return command
    .option(
      '--sink <uri>',
      `also write ${what} of every changed date to this DynamoDB table: dynamodb://TABLE`,
    )
    .option('--create-table', 'with --sink: create the table (keys pk/sk, on-demand) if it does not exist');
}

/**
 * The sink's table, created with --create-table, else checked to exist with playtally's keys:
 * before any work, so that a wrong name fails at once (saying so on stderr unless quiet).
 * Undefined without --sink.
 */
export async function openSink(
  options: SinkCliOptions,
  stateDir: string,
  quiet = false,
): Promise<DynamoSink | undefined> {
  if (options.sink === undefined) {
    if (options.createTable)
      throw new PlaytallyError('usage', '--create-table is for --sink dynamodb://TABLE');
    return undefined;
  }
  // Imported when a sink is given: the AWS client is about 170 ms of every command's start.
  const [{ DynamoTable }, { DynamoSink }] = await Promise.all([
    import('../cloud/dynamoTable.js'),
    import('../sinks/dynamoSink.js'),
  ]);
  const table = DynamoTable.fromUri(options.sink);
  try {
    if (options.createTable) {
      const made = await table.create();
      if (!quiet)
        process.stderr.write(
          `playtally: DynamoDB table ${table.name} ${made === 'created' ? 'created' : 'exists'}\n`,
        );
    }
    await table.check();
    return new DynamoSink(table, stateDir);
  } catch (error) {
    table.close();
    throw error;
  }
}

/**
 * Bring the sink up to date with the output folder (its KPIs or its country charts), saying on
 * stderr what it wrote, a line per date and a total (nothing when quiet).
 */
export async function writeSink(
  sink: DynamoSink,
  what: 'kpis' | 'charts',
  outDir: string,
  quiet: boolean | undefined,
): Promise<void> {
  const onDay = (day: SinkDayResult): void => {
    if (!quiet)
      process.stderr.write(
        `  ${sink.table.name}: ${day.date} written (${plural(day.items, 'item')}, ${thousands(day.deleted)} removed)\n`,
      );
  };
  const written = what === 'kpis' ? await sink.syncKpis(outDir, onDay) : await sink.syncCharts(outDir, onDay);
  if (!quiet) {
    const dates = plural(written.length, what === 'kpis' ? 'KPI day' : 'chart date');
    process.stderr.write(`playtally: ${dates} written to DynamoDB ${sink.table.name}\n`);
  }
}
