import { describe, expect, it } from 'vitest';
import { ClickHouseCluster, clusterTarget, shownUrl } from '../../src/engines/clickhouse/cluster.js';
import { PlaytallyError } from '../../src/ops/errors.js';

/** Issue 17, point 11: the shard URLs playtally takes, says and records. */
describe('ClickHouse shard URLs', () => {
  it('are shown and recorded without their user and password, and otherwise as given', () => {
    expect(shownUrl('http://playtally:s3cret@ch1:8123')).toBe('http://ch1:8123');
    expect(shownUrl('https://u@ch2:8443/proxy/')).toBe('https://ch2:8443/proxy/');
    // A URL without credentials is recorded as it was before: the manifests' targets still match.
    expect(shownUrl('http://127.0.0.1:18123')).toBe('http://127.0.0.1:18123');
    expect(clusterTarget(['http://a:x@ch1:8123', 'http://ch2:8123'], 'playtally')).toBe(
      'http://ch1:8123,http://ch2:8123/playtally',
    );
  });

  it('with parameters, or not http(s), are a usage error that does not repeat the password', () => {
    for (const url of [
      'http://u:s3cret@ch1:8123/?user=x',
      'http://ch1:8123/#x',
      'ftp://ch1',
      'ch1:8123',
      'http://',
    ]) {
      let error: unknown;
      try {
        new ClickHouseCluster([url], 'playtally');
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(PlaytallyError);
      expect((error as PlaytallyError).code, url).toBe('usage');
      expect((error as Error).message, url).not.toContain('s3cret');
    }
    expect(() => new ClickHouseCluster(['http://u:s3cret@ch1:8123/?user=x'], 'playtally')).toThrow(
      /has parameters; give a shard as http\(s\):\/\/\[user:password@\]host:port/,
    );
  });
});
