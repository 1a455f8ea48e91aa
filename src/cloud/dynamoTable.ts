import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  type WriteRequest,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { plural } from '../ops/counts.js';
import { PlaytallyError } from '../ops/errors.js';
import { awsError, guarded } from './awsErrors.js';

/** The key attributes of playtally's table: a partition key and a sort key, both strings. */
export const PK = 'pk';
export const SK = 'sk';

/** Items per BatchWriteItem request: DynamoDB's limit. */
const BATCH = 25;

/**
 * A DynamoDB table named by a sink URI, `dynamodb://TABLE`. Credentials, region and endpoint come
 * from the standard AWS configuration (environment, shared config and credentials files,
 * `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB).
 */
export class DynamoTable {
  readonly client: DynamoDBClient;

  constructor(
    readonly name: string,
    client?: DynamoDBClient,
  ) {
    // The SDK warns on every process that Node 20 will not get its updates after January 2027;
    // playtally says so once, in docs/AWS.md, rather than on every command's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = client ?? new DynamoDBClient({});
  }

  /** `dynamodb://TABLE` -> the table; anything else is a usage error. */
  static fromUri(uri: string, client?: DynamoDBClient): DynamoTable {
    const m = /^dynamodb:\/\/([A-Za-z0-9_.-]{3,255})$/.exec(uri);
    if (!m) {
      throw new PlaytallyError(
        'usage',
        `--sink must be dynamodb://TABLE (3 to 255 letters, digits, _ . -), got ${JSON.stringify(uri)}`,
      );
    }
    return new DynamoTable(m[1]!, client);
  }

  /** Create the table (on-demand capacity) unless it exists; wait until it is active. */
  async create(): Promise<'created' | 'exists'> {
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.name,
          KeySchema: [
            { AttributeName: PK, KeyType: 'HASH' },
            { AttributeName: SK, KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: PK, AttributeType: 'S' },
            { AttributeName: SK, AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ResourceInUseException') throw this.failure(error, 'create the table');
      return 'exists';
    }
    await waitUntilTableExists({ client: this.client, maxWaitTime: 300 }, { TableName: this.name });
    return 'created';
  }

  /** Check the table is there with playtally's keys: a clear error before any work otherwise. */
  async check(): Promise<void> {
    let keys: { AttributeName?: string; KeyType?: string }[];
    try {
      const table = await this.client.send(new DescribeTableCommand({ TableName: this.name }));
      keys = table.Table?.KeySchema ?? [];
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new PlaytallyError(
          'sink_unavailable',
          `DynamoDB table ${this.name} does not exist: create it with --create-table`,
          { table: this.name },
        );
      }
      throw this.failure(error, 'describe the table');
    }
    const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (hash !== PK || range !== SK) {
      throw new PlaytallyError(
        'sink_unavailable',
        `DynamoDB table ${this.name} has keys ${hash ?? '-'}/${range ?? '-'}, not ${PK}/${SK}: not a playtally table`,
        { table: this.name },
      );
    }
  }

  /** The sort keys of the items of one partition. */
  async sortKeys(pk: string): Promise<string[]> {
    return (await this.queryAll(pk, undefined, true)).map((item) => item[SK]!.S!);
  }

  /** Every item of a partition whose sort key starts with `prefix`, in sort key order. */
  query(pk: string, prefix: string): Promise<Record<string, AttributeValue>[]> {
    return this.queryAll(pk, prefix, false);
  }

  /** A Query over every page of the answer (DynamoDB pages at 1 MB). */
  private async queryAll(
    pk: string,
    prefix: string | undefined,
    keysOnly: boolean,
  ): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const from = start;
      const page = await this.guard('read the table', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.name,
            KeyConditionExpression: `#pk = :pk${prefix === undefined ? '' : ' AND begins_with(#sk, :prefix)'}`,
            // DynamoDB refuses a name the expressions do not use.
            ExpressionAttributeNames: {
              '#pk': PK,
              ...(prefix !== undefined || keysOnly ? { '#sk': SK } : {}),
            },
            ExpressionAttributeValues: {
              ':pk': { S: pk },
              ...(prefix === undefined ? {} : { ':prefix': { S: prefix } }),
            },
            ...(keysOnly ? { ProjectionExpression: '#sk' } : {}),
            ExclusiveStartKey: from,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  async get(pk: string, sk: string): Promise<Record<string, AttributeValue> | undefined> {
    const answer = await this.guard('read the table', () =>
      this.client.send(
        new GetItemCommand({ TableName: this.name, Key: { [PK]: { S: pk }, [SK]: { S: sk } } }),
      ),
    );
    return answer.Item;
  }

  /**
   * Put and delete items in batches of 25. Items DynamoDB leaves unprocessed (throttling, a
   * partition over its throughput) are sent again after a backoff that doubles, with jitter, up
   * to `attempts` times; what is still left then is an error naming the table.
   */
  async write(requests: WriteRequest[], attempts = 10, baseDelayMs = 50): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH) {
      let pending = requests.slice(i, i + BATCH);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === attempts) {
          throw new PlaytallyError(
            'sink_unavailable',
            `DynamoDB left ${plural(pending.length, 'item')} of ${this.name} unprocessed after ${attempts} attempts`,
            { table: this.name },
          );
        }
        if (attempt > 0) {
          const delay = Math.min(5_000, baseDelayMs * 2 ** (attempt - 1));
          await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
        }
        const batch = pending;
        const answer = await this.guard('write the table', () =>
          this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.name]: batch } })),
        );
        pending = answer.UnprocessedItems?.[this.name] ?? [];
      }
    }
  }

  close(): void {
    this.client.destroy();
  }

  /** A request whose failure becomes a clear error naming the table (exit 4). */
  private guard<T>(what: string, request: () => Promise<T>): Promise<T> {
    return guarded('sink_unavailable', `${what} ${this.name} in DynamoDB`, { table: this.name }, request);
  }

  private failure(error: unknown, what: string): PlaytallyError {
    return awsError('sink_unavailable', `${what} ${this.name} in DynamoDB`, { table: this.name }, error);
  }
}
