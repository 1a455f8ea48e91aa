/**
 * The 249 officially assigned ISO 3166-1 alpha-2 country codes, in alphabetical order.
 * A country's index in this list is its compact id everywhere in playtally (one byte), so sorting
 * by index is sorting alphabetically, which is the row order the chart files promise.
 */
export const COUNTRY_CODES: readonly string[] = (
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ ' +
  'BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
  'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ ' +
  'DE DJ DK DM DO DZ ' +
  'EC EE EG EH ER ES ET ' +
  'FI FJ FK FM FO FR ' +
  'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY ' +
  'HK HM HN HR HT HU ' +
  'ID IE IL IM IN IO IQ IR IS IT ' +
  'JE JM JO JP ' +
  'KE KG KH KI KM KN KP KR KW KY KZ ' +
  'LA LB LC LI LK LR LS LT LU LV LY ' +
  'MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ ' +
  'NA NC NE NF NG NI NL NO NP NR NU NZ ' +
  'OM ' +
  'PA PE PF PG PH PK PL PM PN PR PS PT PW PY ' +
  'QA ' +
  'RE RO RS RU RW ' +
  'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ ' +
  'TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ ' +
  'UA UG UM US UY UZ ' +
  'VA VC VE VG VI VN VU ' +
  'WF WS ' +
  'YE YT ' +
  'ZA ZM ZW'
).split(' ');

export const COUNTRY_COUNT = COUNTRY_CODES.length;

/**
 * Lookup from two upper-case letters to a country index: `(a - 65) * 26 + (b - 65)` -> index,
 * or -1 for a pair of letters that is not an assigned code. 676 entries, so the parser's hot loop
 * resolves a country with one array read.
 */
export const COUNTRY_BY_LETTERS: Int16Array = (() => {
  const table = new Int16Array(26 * 26).fill(-1);
  COUNTRY_CODES.forEach((code, index) => {
    table[(code.charCodeAt(0) - 65) * 26 + (code.charCodeAt(1) - 65)] = index;
  });
  return table;
})();

/** The index of a country code, or -1 when it is not one of the 249 codes. */
export function countryIndex(code: string): number {
  return COUNTRY_CODES.indexOf(code);
}
