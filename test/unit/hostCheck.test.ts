import { describe, expect, it } from 'vitest';
import { hostChecker } from '../../src/serve/hostCheck.js';

/** Issue 17, point 10: the Host names a server answers (DNS rebinding). */
describe('hostChecker', () => {
  it('on loopback: the loopback names and the bound address, any port; another name is refused', () => {
    const allowed = hostChecker('127.0.0.1');
    for (const host of [
      '127.0.0.1:8080',
      'localhost:8080',
      'LOCALHOST',
      '[::1]:8080',
      'localhost.',
      undefined,
      '',
    ]) {
      expect(allowed(host), String(host)).toBe(true);
    }
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', '10.0.0.1:8080']) {
      expect(allowed(host), host).toBe(false);
    }
  });

  it('--allowed-hosts adds names; a wildcard bind answers any name unless names are given', () => {
    expect(hostChecker('127.0.0.1', ['charts.example'])('charts.example:443')).toBe(true);
    expect(hostChecker('10.1.2.3')('10.1.2.3:8080')).toBe(true);
    expect(hostChecker('10.1.2.3')('localhost')).toBe(false);
    expect(hostChecker('0.0.0.0')('whatever.example')).toBe(true);
    const named = hostChecker('0.0.0.0', ['charts.example']);
    expect(named('charts.example')).toBe(true);
    expect(named('evil.example')).toBe(false);
  });
});
