import { gaussian, pick, Random, shuffled } from '../random.js';
import { aliasTable } from '../weightedTables.js';
import { clamp, csvField, decimal, pyFloat } from './fieldText.js';
import { SPOTIFY_GENRES } from './spotifyGenres.js';
import { TextSink } from './textSink.js';
import { BAND_NAMES, FIRST_NAMES, FOREIGN_WORDS, LAST_NAMES, TRICKY_TRACK_NAMES, WORDS } from './words.js';

/**
 * songs/tracks.csv in the shape of the Kaggle "Spotify Tracks Dataset": its columns, tracks
 * grouped by genre with equal counts per genre, about 5% of the tracks listed again under a second
 * genre, and names with commas, quotes, newlines and non-ASCII text.
 */

/** The header of songs/*.csv: the dataset's, whose first column (a row index) has no name. */
export const SONG_COLUMNS: readonly string[] = [
  '',
  'track_id',
  'artists',
  'album_name',
  'track_name',
  'popularity',
  'duration_ms',
  'explicit',
  'danceability',
  'energy',
  'key',
  'loudness',
  'mode',
  'speechiness',
  'acousticness',
  'instrumentalness',
  'liveness',
  'valence',
  'tempo',
  'time_signature',
  'track_genre',
];

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Track ids are 22 base62 digits, as Spotify's are. */
export const TRACK_ID_LENGTH = 22;
/** Share of tracks listed a second time under another genre. */
const SECOND_GENRE_SHARE = 0.05;
/** Popularity of genres (by a seeded rank) and of tracks within a genre: Zipf-like exponents. */
const GENRE_EXPONENT = 0.9;
const TRACK_EXPONENT = 1.1;
const GENRES = SPOTIFY_GENRES.length;

/** The catalogue: what the streams writer draws tracks from, and tracks.csv. */
export interface Catalogue {
  ids: string[];
  /** The ids as bytes, TRACK_ID_LENGTH per track. */
  idBytes: Uint8Array;
  /** Alias table of the tracks' play probabilities (genre popularity x rank within the genre). */
  prob: Float64Array;
  alias: Int32Array;
  /** Well-formed ids that are not in the catalogue (tracks missing from the songs drop). */
  unknownIds: string[];
  /** tracks.csv. */
  bytes: Uint8Array;
  rows: number;
  tracksUnderTwoGenres: number;
  rowsWithoutNames: number;
}

/** The catalogue of `songs` tracks, and tracks.csv. The steps draw from one Random, in this order. */
export function buildCatalogue(songs: number, seed: number): Catalogue {
  const random = new Random(seed, 0x50465, 1);
  const { ids, idBytes, unknownIds } = drawTrackIds(songs, random);
  const weights = playWeights(songs, random);
  const { prob, alias } = aliasTable(weights);
  const artists = drawArtists(songs, random);
  const albums = drawAlbums(songs, random);
  const fields = drawTrackFields(ids, weights, artists, albums, random);
  const { byGenre, tracksUnderTwoGenres } = drawGenreRows(songs, random);
  const { bytes, rows } = tracksCsv(byGenre, fields);
  return {
    ids,
    idBytes,
    prob,
    alias,
    unknownIds,
    bytes,
    rows,
    tracksUnderTwoGenres,
    rowsWithoutNames: fields.rowsWithoutNames,
  };
}

/** The catalogue's ids, then 64 more that it does not list; all distinct. */
function drawTrackIds(
  songs: number,
  random: Random,
): { ids: string[]; idBytes: Uint8Array; unknownIds: string[] } {
  const idBytes = Buffer.alloc((songs + 64) * TRACK_ID_LENGTH);
  const known = new Set<string>();
  const ids: string[] = [];
  while (ids.length < songs + 64) {
    // 22 base62 digits of a 128-bit number: the first one is 0..7, as in real Spotify ids.
    const at = ids.length * TRACK_ID_LENGTH;
    idBytes[at] = BASE62.charCodeAt(random.below(8));
    for (let j = 1; j < TRACK_ID_LENGTH; j++) idBytes[at + j] = BASE62.charCodeAt(random.below(62));
    const id = idBytes.toString('latin1', at, at + TRACK_ID_LENGTH);
    if (known.has(id)) continue;
    known.add(id);
    ids.push(id);
  }
  const unknownIds = ids.splice(songs);
  return { ids, idBytes, unknownIds };
}

/**
 * Each track's share of plays. Track i is in genre i % 114 (equal counts per genre, as in the
 * dataset), the floor(i / 114)-th of it by popularity; genres are ranked by a seeded shuffle.
 */
function playWeights(songs: number, random: Random): Float64Array {
  const genreRank = shuffled(GENRES, random);
  const weights = new Float64Array(songs);
  for (let i = 0; i < songs; i++) {
    const genreWeight = (genreRank[i % GENRES]! + 1) ** -GENRE_EXPONENT;
    weights[i] = genreWeight * (Math.floor(i / GENRES) + 1) ** -TRACK_EXPONENT;
  }
  return weights;
}

/** Artist names, about one per 5 tracks. */
function drawArtists(songs: number, random: Random): string[] {
  const artists: string[] = [];
  for (let i = 0, n = Math.max(50, Math.floor(songs / 5)); i < n; i++) {
    const r = random.next();
    artists.push(
      r < 0.01
        ? BAND_NAMES[random.below(BAND_NAMES.length)]!
        : r < 0.5
          ? `${pick(FIRST_NAMES, random)} ${pick(LAST_NAMES, random)}`
          : r < 0.75
            ? `The ${pick(WORDS, random)} ${pick(WORDS, random)}s`
            : `${pick(WORDS, random)}${random.next() < 0.2 ? ` ${pick(FOREIGN_WORDS, random)}` : ''}`,
    );
  }
  return artists;
}

/** Album names, about one per 8 tracks (40% of the tracks are singles named after themselves). */
function drawAlbums(songs: number, random: Random): string[] {
  const albums: string[] = [];
  for (let i = 0, n = Math.max(20, Math.floor(songs / 8)); i < n; i++) {
    const r = random.next();
    albums.push(
      r < 0.03
        ? `Greatest Hits, Vol. ${1 + random.below(4)}`
        : r < 0.06
          ? `${pick(FOREIGN_WORDS, random)} ${pick(WORDS, random)}`
          : `${pick(WORDS, random)} ${pick(WORDS, random)}`,
    );
  }
  return albums;
}

/** Each track's fields between the row index and track_genre, shared by a track's two rows. */
interface TrackFields {
  /** The fields' text of every track, one after the other. */
  text: TextSink;
  /** Track i's text is `text` from ends[i] to ends[i + 1]. */
  ends: Int32Array;
  rowsWithoutNames: number;
}

function drawTrackFields(
  ids: readonly string[],
  weights: Float64Array,
  artists: readonly string[],
  albums: readonly string[],
  random: Random,
): TrackFields {
  const songs = ids.length;
  const text = new TextSink(songs * 200);
  const ends = new Int32Array(songs + 1);
  const maxWeight = weights[0]!;
  let rowsWithoutNames = 0;
  for (let i = 0; i < songs; i++) {
    let name = i < TRICKY_TRACK_NAMES.length ? TRICKY_TRACK_NAMES[i]! : trackName(random);
    const artistCount = random.next() < 0.8 ? 1 : random.next() < 0.75 ? 2 : 3;
    const names: string[] = [];
    for (let a = 0; a < artistCount; a++) names.push(pick(artists, random));
    let artistText = names.join(';');
    let album = random.next() < 0.4 ? name : pick(albums, random);
    if (i === songs - 1 && songs > TRICKY_TRACK_NAMES.length) {
      // The real dataset has one row whose artists, album and name are missing (empty fields).
      name = '';
      artistText = '';
      album = '';
      rowsWithoutNames++;
    }
    const popularity = clamp(
      Math.round(80 + 16 * Math.log10(weights[i]! / maxWeight)) + random.below(9) - 4,
      0,
      100,
    );
    // About 3.5 minutes, log-normal, within 1 to 10 minutes.
    const duration = clamp(Math.round(210_000 * Math.exp(0.35 * gaussian(random))), 60_000, 600_000);
    const explicit = random.next() < 0.085 ? 'True' : 'False';
    const danceability = decimal(random.next() * 0.9 + 0.05);
    const energy = decimal(random.next() * 0.95 + 0.04);
    const key = random.below(12);
    const loudness = decimal(-2 - 25 * random.next() ** 2);
    const mode = random.next() < 0.63 ? 1 : 0;
    const speechiness = pyFloat(0.022 + 0.5 * random.next() ** 6);
    const acousticness = pyFloat(random.next() ** 3);
    const instrumentalness = random.next() < 0.5 ? '0.0' : pyFloat(10 ** (-7 * random.next()));
    const liveness = pyFloat(0.02 + 0.9 * random.next() ** 3);
    const valence = decimal(random.next());
    const tempo = decimal(60 + 140 * random.next());
    const r = random.next();
    const timeSignature = r < 0.9 ? 4 : r < 0.97 ? 3 : r < 0.99 ? 5 : r < 0.995 ? 1 : 0;
    text.write(
      `${ids[i]!},${csvField(artistText)},${csvField(album)},${csvField(name)},${popularity},${duration},` +
        `${explicit},${danceability},${energy},${key},${loudness},${mode},${speechiness},${acousticness},` +
        `${instrumentalness},${liveness},${valence},${tempo},${timeSignature}`,
    );
    ends[i + 1] = text.size;
  }
  return { text, ends, rowsWithoutNames };
}

/** The tracks of each genre, as in the dataset; about 5% of the tracks get a row under a second genre. */
function drawGenreRows(songs: number, random: Random): { byGenre: number[][]; tracksUnderTwoGenres: number } {
  const byGenre: number[][] = Array.from({ length: GENRES }, () => []);
  for (let i = 0; i < songs; i++) byGenre[i % GENRES]!.push(i);
  let tracksUnderTwoGenres = 0;
  for (let i = 0; i < songs; i++) {
    if (random.next() < SECOND_GENRE_SHARE) {
      const other = (i % GENRES) + 1 + random.below(GENRES - 1);
      byGenre[other % GENRES]!.push(i);
      tracksUnderTwoGenres++;
    }
  }
  return { byGenre, tracksUnderTwoGenres };
}

/**
 * tracks.csv, rows grouped by genre and numbered in the unnamed first column. It is the songs
 * file written with \r\n line endings (names keep a bare \n inside quotes).
 */
function tracksCsv(byGenre: readonly number[][], fields: TrackFields): { bytes: Uint8Array; rows: number } {
  const out = new TextSink(fields.text.size * 1.1 + (fields.ends.length - 1) * 30);
  out.write(`${SONG_COLUMNS.join(',')}\r\n`);
  let row = 0;
  byGenre.forEach((tracks, genre) => {
    const end = `,${SPOTIFY_GENRES[genre]!}\r\n`;
    for (const track of tracks) {
      out.write(`${row++},`);
      out.append(fields.text.bytes().subarray(fields.ends[track]!, fields.ends[track + 1]!));
      out.write(end);
    }
  });
  return { bytes: out.bytes(), rows: row };
}

function trackName(random: Random): string {
  const r = random.next();
  const words = 1 + random.below(3);
  let name = pick(WORDS, random);
  for (let i = 1; i < words; i++) name += ` ${pick(WORDS, random)}`;
  if (r < 0.03) return `${name}, ${pick(WORDS, random)}`;
  if (r < 0.045) return `${name} "${pick(WORDS, random)}"`;
  if (r < 0.05) return `${name}\n${pick(WORDS, random)}`;
  if (r < 0.08) return `${pick(FOREIGN_WORDS, random)} ${name}`;
  if (r < 0.1) return `${name} (feat. ${pick(FIRST_NAMES, random)})`;
  return name;
}
