import { COUNTRY_CODES } from '../parse/countries.js';
import { slotTable } from './weightedTables.js';

/**
 * Where listeners are, shared by both generators: a few big markets by listening share, then a
 * long tail over all 249 codes of COUNTRY_CODES.
 */
export const BIG_MARKETS = [
  'US',
  'BR',
  'GB',
  'DE',
  'FR',
  'MX',
  'IN',
  'JP',
  'ES',
  'IT',
  'CA',
  'AU',
  'NL',
  'PL',
  'SE',
  'AR',
];

/** 2^14 slots: small enough to stay in cache, fine enough that every code gets one. */
export const COUNTRY_TABLE_BITS = 14;

/**
 * Slots mapping a uniform draw to a country index (into COUNTRY_CODES), big markets first, every
 * code present: `table[uint32 >>> (32 - COUNTRY_TABLE_BITS)]`.
 */
export function countryTable(): Uint8Array {
  const weights = COUNTRY_CODES.map((code) => {
    const big = BIG_MARKETS.indexOf(code);
    return big >= 0 ? 400 / (big + 1) : 1;
  });
  return slotTable(weights, COUNTRY_TABLE_BITS, Uint8Array);
}
