import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/**
 * dynalite, a DynamoDB implementation, started on loopback by the test file that needs it (no
 * server to install, so it runs everywhere, CI included), with a client of this process and the
 * environment a CLI child reaches it with.
 */
export interface Dynalite {
  endpoint: string;
  client: DynamoDBClient;
  /** The standard AWS variables pointing at it, for a CLI child. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

/** Start dynalite on a free loopback port (call from beforeAll; `close` from afterAll). */
export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    endpoint,
    client,
    env: () => ({
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    }),
    async close() {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
