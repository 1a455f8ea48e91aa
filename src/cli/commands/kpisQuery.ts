import { Command } from 'commander';
import { plural, thousands } from '../../ops/counts.js';
import { isoDay } from '../../ops/dates.js';
import { PlaytallyError } from '../../ops/errors.js';
import type { KpiAnswer } from '../../sinks/dynamoAnswers.js';
import { dayOption, requireOption } from '../optionParsers.js';
import { jsonOption } from '../sharedOptions.js';

interface QueryCliOptions {
  sink?: string;
  date?: number;
  genre?: string;
  json?: boolean;
}

/** `playtally kpis query`: a day's top genres and each genre's top tracks, from the DynamoDB sink. */
export function kpisQueryCommand(): Command {
  return new Command('query')
    .description("answer from the DynamoDB sink: a day's 5 top genres and the 3 top tracks of each genre")
    .option('--sink <uri>', 'dynamodb://TABLE, as given to `playtally kpis --sink` (required)')
    .option('--date <date>', 'the day, YYYYMMDD or YYYY-MM-DD (required)', dayOption)
    .option('--genre <genre>', 'only this genre (default: every genre of the day)')
    .addOption(jsonOption('the answer'))
    .addHelpText(
      'after',
      `
AWS credentials, region and endpoint come from the standard configuration (AWS_REGION,
AWS_PROFILE, ~/.aws/config, AWS_ENDPOINT_URL for a local DynamoDB). A day the table does not
hold is exit 3.

Examples:
  playtally kpis query --sink dynamodb://playtally-kpis --date 2024-01-07
  playtally kpis query --sink dynamodb://playtally-kpis --date 2024-01-07 --genre jazz --json`,
    )
    .action(async (options: QueryCliOptions) => {
      // Imported here, not at the top: the AWS client is about 170 ms of every command's start.
      const [{ DynamoTable }, { readKpiAnswer }] = await Promise.all([
        import('../../cloud/dynamoTable.js'),
        import('../../sinks/dynamoAnswers.js'),
      ]);
      const table = DynamoTable.fromUri(requireOption(options.sink, '--sink <uri>'));
      if (options.date === undefined)
        throw new PlaytallyError('usage', "required option '--date <date>' not specified");
      const date = isoDay(options.date);
      try {
        const answer = await readKpiAnswer(table, date, options.genre);
        if (answer === undefined) {
          throw new PlaytallyError('missing_days', `${table.name} holds no genre KPIs of ${date}`, { date });
        }
        if (options.genre !== undefined && answer.genres.length === 0) {
          throw new PlaytallyError(
            'missing_days',
            `${table.name} holds no genre ${JSON.stringify(options.genre)} on ${date}`,
            {
              date,
            },
          );
        }
        process.stdout.write(
          options.json ? `${JSON.stringify(answer, null, 2)}\n` : answerText(answer, options.genre),
        );
      } finally {
        table.close();
      }
    });
}

const n = thousands;
const hourLabel = (hour: number | null): string =>
  hour === null ? '' : ` ${String(hour).padStart(2, '0')}h`;

function answerText(answer: KpiAnswer, genre: string | undefined): string {
  let out = '';
  if (genre === undefined) {
    out += `${answer.date}: top genres${answer.granularity === 'hour' ? ' by hour (UTC)' : ''}\n`;
    for (const t of answer.topGenres) {
      out += `  ${hourLabel(t.hour)}${t.hour === null ? '' : ' '}${t.rank}. ${t.genre} (${plural(t.listenCount, 'listen')})\n`;
    }
  }
  out += `${answer.date}: top 3 tracks${genre === undefined ? ' of each genre' : ` of ${genre}`}\n`;
  for (const g of answer.genres) {
    const tracks = g.top3.map((t) => `${t.track} (${n(t.plays)})`).join(', ');
    out += `  ${g.genre}${hourLabel(g.hour)}: ${tracks} [${plural(g.listenCount, 'listen')}, ${plural(g.uniqueListeners, 'listener')}]\n`;
  }
  return out;
}
