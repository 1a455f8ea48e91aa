import { isoDay } from '../../ops/dates.js';
import { COUNTRY_CODES } from '../../parse/countries.js';
import { COUNTRY_TABLE_BITS, countryTable } from '../countryMix.js';
import { gaussian, mix32, permute, pick, Random } from '../random.js';
import { clamp, csvField, pad2 } from './fieldText.js';
import { DAY_MS } from './listenTimes.js';
import { TextSink } from './textSink.js';
import { FIRST_NAMES, LAST_NAMES, WORDS } from './words.js';

/**
 * users/users.csv: user ids `u` and 6+ digits, names with commas and quotes, ages, a home country
 * per user (skewed towards big markets), sign-up times, and the UTC offset each user's listen
 * times are written with.
 */

/** The columns of users/*.csv, in the documented order. */
export const USER_COLUMNS: readonly string[] = [
  'user_id',
  'user_name',
  'user_age',
  'user_country',
  'created_at',
];
/** The order users/users.csv is written in: another one, since readers map columns by header name. */
export const USERS_FILE_COLUMNS: readonly string[] = [
  'created_at',
  'user_name',
  'user_id',
  'user_country',
  'user_age',
];

/** UTC offsets (minutes) of some countries' streaming clients in January; others draw one. */
const COUNTRY_OFFSETS: Record<string, number[]> = {
  US: [-300, -360, -480],
  CA: [-300, -480],
  MX: [-360],
  BR: [-180],
  AR: [-180],
  GB: [0],
  DE: [60],
  FR: [60],
  ES: [60],
  IT: [60],
  NL: [60],
  PL: [60],
  SE: [60],
  IN: [330],
  JP: [540],
  AU: [600, 660],
};
const OTHER_OFFSETS = [-600, -300, -240, -180, 0, 60, 120, 180, 240, 330, 420, 480, 540, 720];

/** The users: what the streams writer draws users from, and users.csv. */
export interface Users {
  count: number;
  digits: number;
  /** `u` and `digits` digits per user. */
  idBytes: Uint8Array;
  /** Each user's UTC offset in minutes, used by the rows written with an offset. */
  offsets: Int16Array;
  /** Well-formed ids that are not in users/ (one digit more). */
  unknownIds: string[];
  /** users.csv. */
  bytes: Uint8Array;
}

/** `count` users signed up before `start` (a day number), and users.csv. */
export function buildUsers(count: number, start: number, seed: number): Users {
  const random = new Random(seed, 0x05e45, 2);
  const { digits, idBytes } = userIds(count, seed);
  const width = digits + 1;
  const low = 10 ** (digits - 1);
  const unknownIds: string[] = [];
  for (let i = 0; i < 64; i++) unknownIds.push(`u${10 * low + random.below(90 * low)}`);

  const countries = countryTable();
  const offsets = new Int16Array(count);
  const createdFrom = Date.UTC(2015, 0, 1);
  const createdTo = start * DAY_MS - 1000;
  // users.csv is the users file written with \r\n line endings.
  const out = new TextSink(count * 64);
  out.write(`${USERS_FILE_COLUMNS.join(',')}\r\n`);
  const dates = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    const country = COUNTRY_CODES[countries[random.uint32() >>> (32 - COUNTRY_TABLE_BITS)]!]!;
    const choices = COUNTRY_OFFSETS[country] ?? OTHER_OFFSETS;
    offsets[i] = choices[random.below(choices.length)]!;
    const first = pick(FIRST_NAMES, random);
    const last = pick(LAST_NAMES, random);
    const r = random.next();
    const name =
      r < 0.03
        ? `${last}, ${first}`
        : r < 0.04
          ? `${first} "${pick(WORDS, random)}" ${last}`
          : `${first} ${last}`;
    // Median about 28, few under 16, a long tail of older listeners.
    const age = clamp(Math.round(13 + 15 * Math.exp(0.6 * gaussian(random))), 13, 90);
    // Sign-ups skewed towards recent years.
    const created =
      createdFrom + Math.floor(((createdTo - createdFrom) * Math.sqrt(random.next())) / 1000) * 1000;
    const day = Math.floor(created / DAY_MS);
    let date = dates.get(day);
    if (date === undefined) dates.set(day, (date = isoDay(day)));
    const second = (created - day * DAY_MS) / 1000;
    const createdAt = `${date}T${pad2(Math.floor(second / 3600))}:${pad2(Math.floor(second / 60) % 60)}:${pad2(second % 60)}Z`;
    const id = idBytes.toString('latin1', i * width, (i + 1) * width);
    // In the order of USERS_FILE_COLUMNS.
    out.write(`${createdAt},${csvField(name)},${id},${country},${age}\r\n`);
  }
  return { count, digits, idBytes, offsets, unknownIds, bytes: out.bytes() };
}

/**
 * Ids `u` and `digits` digits, a permutation of the index over [10^(d-1), 10^d): a bijection of
 * [0, 2^bits) applied until it lands in the range (cycle walking), so ids are all distinct. No
 * draws: the ids depend on the seed and the count only.
 */
function userIds(count: number, seed: number): { digits: number; idBytes: Buffer } {
  const digits = Math.max(6, String(count).length + 1);
  const low = 10 ** (digits - 1);
  const range = 9 * low;
  const bits = Math.ceil(Math.log2(range));
  const key = mix32(seed ^ 0x1d);
  const width = digits + 1;
  const idBytes = Buffer.alloc(count * width);
  for (let i = 0; i < count; i++) {
    let v = permute(i, bits, key);
    while (v >= range) v = permute(v, bits, key);
    idBytes.write(`u${low + v}`, i * width, 'latin1');
  }
  return { digits, idBytes };
}
