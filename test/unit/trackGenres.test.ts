import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nameListOf } from '../../src/parse/idInterner.js';
import { type TrackGenre, TrackGenres, TrackRows } from '../../src/parse/trackGenres.js';

/**
 * The songs catalogue's tracks (src/parse/trackGenres.ts): each track_id with the genres it is
 * listed under, in the order of its rows, against a Map of lists built the plain way.
 */

describe('TrackGenres', () => {
  it('property: what a Map of each track to its rows gives, whatever the rows and files', () => {
    const row = fc.record({
      track: fc.constantFrom('t1', 't2', '😀 ü', '7LacXobmYSAGWjTuHI3Mkk', ''),
      genre: fc.constantFrom('rock', 'pop', 'k-pop', 'ü'),
      durationMs: fc.nat({ max: 1_000_000 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(row, { maxLength: 30 }), { maxLength: 4 }), (files) => {
        // The plain way: a track's rows in file order, each (track, genre) once (its first row).
        const want = new Map<string, TrackGenre[]>();
        let catalog: TrackRows | undefined;
        for (const rows of files) {
          const staged = new TrackRows(catalog);
          for (const { track, genre, durationMs } of rows) {
            const list = want.get(track) ?? [];
            if (list.some((g) => g.genre === genre)) continue;
            list.push({ genre, durationMs });
            want.set(track, list);
            const g = staged.genre(genre);
            const t = staged.ids.id(track);
            expect(staged.hasGenre(t, g)).toBe(false);
            staged.add(t, g, durationMs);
            expect(staged.hasGenre(t, g)).toBe(true);
          }
          if (catalog === undefined) catalog = staged;
          else catalog.addAll(staged);
        }
        const got = (catalog ?? new TrackRows()).finish();
        expect([...got]).toEqual([...want]);
        expect([...got.keys()]).toEqual([...want.keys()]);
        expect(got.size).toBe(want.size);
        for (const [track, genres] of want) {
          expect(got.has(track)).toBe(true);
          expect(got.get(track)).toEqual(genres);
        }
        expect(got.get('absent')).toBeUndefined();
        // The genres of the rows kept, each once.
        expect([...got.genres].sort()).toEqual(
          [...new Set([...want.values()].flat().map((g) => g.genre))].sort(),
        );
        // Looked up by bytes in its numbering: numbers whose entries in its layout are the track's
        // genres (how a run reads them: CatalogNumbering).
        const names = [...want.keys(), 'absent'];
        const numbers = got.numbering.idsOfList(nameListOf(names), false);
        expect(numbers[names.length - 1]).toBe(-1);
        const { from, genreOf, durations } = got.layout;
        expect(from).toHaveLength(got.size + 1);
        names.slice(0, -1).forEach((track, i) => {
          const genres: TrackGenre[] = [];
          for (let e = from[numbers[i]!]!; e < from[numbers[i]! + 1]!; e++)
            genres.push({ genre: got.genres[genreOf[e]!]!, durationMs: durations[e]! });
          expect(genres).toEqual(want.get(track));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('of: a catalogue of given tracks (a track with no genre is known, with none)', () => {
    const tracks = TrackGenres.of([
      ['a', [{ genre: 'rock', durationMs: 1 }]],
      ['b', []],
      [
        'c',
        [
          { genre: 'pop', durationMs: 2 },
          { genre: 'rock', durationMs: 3 },
        ],
      ],
    ]);
    expect(tracks.size).toBe(3);
    expect(tracks.get('b')).toEqual([]);
    expect(tracks.get('c')).toEqual([
      { genre: 'pop', durationMs: 2 },
      { genre: 'rock', durationMs: 3 },
    ]);
    expect(tracks.genres).toEqual(['rock', 'pop']);
  });
});
