import { describe, expect, it } from 'vitest';
import { type ArgsSpec, helpText, parseArgs, UsageError } from '../../bench/benchSupport.js';

/**
 * The bench scripts' shared option handling (bench/benchSupport.ts): --help and a mistyped option
 * must stop a script before it starts an hours-long run. No benchmark is run here.
 */

const SPEC: ArgsSpec = {
  usage: 'node dist/bench/example.js [options]',
  about: 'An example bench.',
  options: {
    rows: { value: 'N', help: 'rows a day (default 20)' },
    record: { help: 'write the table into docs/BENCHMARKS.md' },
    'no-gzip': { help: 'skip the gzip run' },
    child: { value: 'FILE', help: 'internal', hidden: true },
  },
};

describe('parseArgs', () => {
  it('reads values, flags and --name=value', () => {
    const parsed = parseArgs(SPEC, ['--rows', '5', '--record', '--no-gzip']);
    expect(parsed).toEqual(
      new Map([
        ['rows', '5'],
        ['record', 'true'],
        ['no-gzip', 'true'],
      ]),
    );
    expect(parseArgs(SPEC, ['--rows=7'])).toEqual(new Map([['rows', '7']]));
    expect(parseArgs(SPEC, [])).toEqual(new Map());
  });

  it('does not let a flag take the next word as its value', () => {
    expect(() => parseArgs(SPEC, ['--record', 'yes'])).toThrow(/unexpected argument 'yes'/);
    expect(() => parseArgs(SPEC, ['--record=yes'])).toThrow(/--record is a flag/);
  });

  it('asks for the value of a value option', () => {
    expect(() => parseArgs(SPEC, ['--rows'])).toThrow(/--rows needs a value \(N\)/);
    expect(() => parseArgs(SPEC, ['--rows', '--record'])).toThrow(UsageError);
  });

  it('refuses an unknown option, naming the valid ones but not the hidden', () => {
    const error = (() => {
      try {
        parseArgs(SPEC, ['--rows', '5', '--row', '6']);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.message).toBe('unknown option --row; valid options: --rows, --record, --no-gzip');
  });

  it('accepts a hidden option', () => {
    expect(parseArgs(SPEC, ['--child', 'a.log'])).toEqual(new Map([['child', 'a.log']]));
  });

  it('returns help for --help or -h, whatever else is there', () => {
    expect(parseArgs(SPEC, ['--help'])).toBe('help');
    expect(parseArgs(SPEC, ['--rows', '5', '-h'])).toBe('help');
    expect(parseArgs(SPEC, ['--bogus', '--help'])).toBe('help');
  });
});

describe('helpText', () => {
  it('lists the usage, what it does and each visible option with its value, aligned', () => {
    expect(helpText(SPEC)).toBe(
      [
        'Usage: node dist/bench/example.js [options]',
        '',
        'An example bench.',
        '',
        'Options:',
        '  --rows N   rows a day (default 20)',
        '  --record   write the table into docs/BENCHMARKS.md',
        '  --no-gzip  skip the gzip run',
        '  --help     print this help and exit',
        '',
      ].join('\n'),
    );
  });
});
