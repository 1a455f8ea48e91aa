import { IdInterner } from './idInterner.js';

/** One genre a track is listed under, with the track's duration in that row. */
export interface TrackGenre {
  genre: string;
  durationMs: number;
}

/**
 * The songs catalogue: every track of the songs files and the genres it is listed under (a track
 * may be in several, as in the Spotify dataset), each with its duration. Tracks by their id's
 * UTF-8 bytes and numbered in order of first appearance, their genres in typed arrays: a Map of
 * each track_id's string to a list of objects held 35 MB at 200,000 tracks, on the main thread
 * for the whole run.
 */
export class TrackGenres {
  /** Every genre a track is listed under, in order of first appearance. */
  readonly genres: readonly string[];

  /**
   * `ids` numbers the tracks; track t's genres are entries `from[t] .. from[t + 1]`: `genreOf`
   * (an index into `genres`) and `durations`, in the order of their rows.
   */
  constructor(
    private readonly ids: IdInterner,
    genres: readonly string[],
    private readonly from: Uint32Array,
    private readonly genreOf: Uint32Array,
    private readonly durations: Float64Array,
  ) {
    this.genres = genres;
  }

  /** A catalogue of the given tracks and their genres (tests, tools). */
  static of(entries: Iterable<readonly [string, readonly TrackGenre[]]>): TrackGenres {
    const rows = new TrackRows();
    for (const [id, genres] of entries) {
      const track = rows.ids.id(id);
      for (const g of genres) rows.add(track, rows.genre(g.genre), g.durationMs);
    }
    return rows.finish();
  }

  /** How many tracks. */
  get size(): number {
    return this.ids.size;
  }

  /**
   * The catalogue's own numbers of its tracks (done growing): a run numbers its tracks by them
   * (ExtendedInterner), so that a track's number is its place in `layout`.
   */
  get numbering(): IdInterner {
    return this.ids;
  }

  /**
   * Track t's genres are `genreOf[from[t] .. from[t + 1])` (indices into `genres`), with their
   * durations at the same places: the catalogue's own arrays, not to be written to.
   */
  get layout(): { from: Uint32Array; genreOf: Uint32Array; durations: Float64Array } {
    return { from: this.from, genreOf: this.genreOf, durations: this.durations };
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The genres of the track of this id (undefined if it is in no songs file). */
  get(id: string): TrackGenre[] | undefined {
    return this.ids.has(id) ? this.genresOf(this.ids.id(id)) : undefined;
  }

  /** Track `track`'s genres (indices into `genres`) and durations, in the order of their rows. */
  private forEachGenre(track: number, visit: (genre: number, durationMs: number) => void): void {
    for (let e = this.from[track]!; e < this.from[track + 1]!; e++)
      visit(this.genreOf[e]!, this.durations[e]!);
  }

  /** Every track id (in order of first appearance). */
  keys(): IterableIterator<string> {
    return this.ids.names.values();
  }

  *[Symbol.iterator](): IterableIterator<[string, TrackGenre[]]> {
    for (let t = 0; t < this.ids.size; t++) yield [this.ids.text(t), this.genresOf(t)];
  }

  /** Track `track`'s genres as objects, in the order of their rows. */
  private genresOf(track: number): TrackGenre[] {
    const list: TrackGenre[] = [];
    this.forEachGenre(track, (genre, durationMs) => list.push({ genre: this.genres[genre]!, durationMs }));
    return list;
  }
}

/**
 * Song rows as they are read: the tracks numbered by `ids`, and per row its track, genre and
 * duration, each track's rows chained in order (a track's genres are usually one or two rows far
 * apart in the file). `finish` lays them out as a TrackGenres.
 */
export class TrackRows {
  readonly ids = new IdInterner();
  /** Genres by their text, shared by the files of one catalogue (`genreNames` by index). */
  private readonly genreIndex: Map<string, number>;
  private readonly genreNames: string[];
  private rowTrack = new Int32Array(1024);
  private rowGenre = new Int32Array(1024);
  private rowDuration = new Float64Array(1024);
  /** The next row of the same track, or -1. */
  private rowNext = new Int32Array(1024);
  private rows = 0;
  /** Per track: its first and last row, or -1. */
  private first = new Int32Array(1024).fill(-1);
  private last = new Int32Array(1024).fill(-1);

  /** `genresOf`: rows of another file of the same catalogue, whose genre numbers these share. */
  constructor(genresOf?: TrackRows) {
    this.genreIndex = genresOf?.genreIndex ?? new Map();
    this.genreNames = genresOf?.genreNames ?? [];
  }

  /** The number of a genre given as text (numbered now if new). */
  genre(text: string): number {
    let g = this.genreIndex.get(text);
    if (g === undefined) {
      g = this.genreNames.length;
      this.genreIndex.set(text, g);
      this.genreNames.push(text);
    }
    return g;
  }

  /** Whether track `track` has a row of genre `genre`. */
  hasGenre(track: number, genre: number): boolean {
    if (track >= this.first.length) return false;
    for (let r = this.first[track]!; r >= 0; r = this.rowNext[r]!)
      if (this.rowGenre[r] === genre) return true;
    return false;
  }

  /** A row of track `track` (a number of `ids`). */
  add(track: number, genre: number, durationMs: number): void {
    if (this.rows === this.rowTrack.length) {
      this.rowTrack = grownInt32(this.rowTrack, 0);
      this.rowGenre = grownInt32(this.rowGenre, 0);
      this.rowNext = grownInt32(this.rowNext, 0);
      const durations = new Float64Array(this.rowDuration.length * 2);
      durations.set(this.rowDuration);
      this.rowDuration = durations;
    }
    while (track >= this.first.length) {
      this.first = grownInt32(this.first, -1);
      this.last = grownInt32(this.last, -1);
    }
    const r = this.rows++;
    this.rowTrack[r] = track;
    this.rowGenre[r] = genre;
    this.rowDuration[r] = durationMs;
    this.rowNext[r] = -1;
    if (this.first[track] === -1) this.first[track] = r;
    else this.rowNext[this.last[track]!] = r;
    this.last[track] = r;
  }

  /** The rows of `other` (another file's, numbered by its own ids) added after these, in order. */
  addAll(other: TrackRows): void {
    const tracks = this.ids.idsOfList(other.ids.nameList());
    for (let r = 0; r < other.rows; r++)
      this.add(tracks[other.rowTrack[r]!]!, other.rowGenre[r]!, other.rowDuration[r]!);
  }

  /** The rows laid out by track: the catalogue, with the genres of its rows only. */
  finish(): TrackGenres {
    const tracks = this.ids.size;
    const from = new Uint32Array(tracks + 1);
    const genreOf = new Uint32Array(this.rows);
    const durations = new Float64Array(this.rows);
    // Genres renumbered in order of first use by a row (a genre met only on rejected rows is none).
    const used = new Int32Array(this.genreNames.length).fill(-1);
    const genres: string[] = [];
    let e = 0;
    for (let t = 0; t < tracks; t++) {
      from[t] = e;
      for (let r = t < this.first.length ? this.first[t]! : -1; r >= 0; r = this.rowNext[r]!) {
        const g = this.rowGenre[r]!;
        if (used[g] === -1) {
          used[g] = genres.length;
          genres.push(this.genreNames[g]!);
        }
        genreOf[e] = used[g]!;
        durations[e++] = this.rowDuration[r]!;
      }
    }
    from[tracks] = e;
    this.ids.trim();
    return new TrackGenres(this.ids, genres, from, genreOf, durations);
  }
}

function grownInt32(values: Int32Array, fill: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(values.length * 2);
  out.set(values);
  if (fill !== 0) out.fill(fill, values.length);
  return out;
}
