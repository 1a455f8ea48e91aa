import type { Catalog, DayKpis, Granularity } from '../kpis/genreKpis.js';

/** What a day's KPIs are computed from: the partials of its files, and the catalogue. */
export interface KpiDayInput {
  day: number;
  granularity: Granularity;
  /** Every streams file with rows on the day, in name order: its partial and its rows on the day. */
  sources: { file: string; hash: string; partial: string; rows: number }[];
  catalog: Catalog;
  /** Content hash of the songs and users files the catalogue was read from. */
  catalogKey: string;
}

/**
 * The KPI engine contract: compute the KPIs of one due day. The job around it (jobs/kpiJob.ts:
 * parsing streams files into partials, deciding which days are due, writing the files and the
 * quality report, archiving) is the same for every engine. Implementations:
 * engines/embedded/kpiEngine.ts and engines/clickhouse/kpiEngine.ts, chosen by
 * engines/pickEngine.ts only; both pass the shared suite test/integration/kpiEngine.contract.test.ts.
 */
export interface KpiDayEngine {
  computeDay(input: KpiDayInput): Promise<DayKpis>;
  /**
   * How many days the job may ask for before the first is answered (default 1: one at a time).
   * An engine that says more takes overlapping computeDay calls.
   */
  readonly daysAhead?: number;
  /**
   * Days of at most `rowsAtMost` rows are coming (the job's parse is in its tail): an engine that
   * computes large days on threads of its own may start them now, so that their start overlaps
   * the parse's last files instead of following them.
   */
  startThreads?(rowsAtMost: number): void;
  /**
   * A partial the coming days will read, just written by the parse, and the catalogue they will be
   * computed with: an engine may read what it needs of it now (the job's thread is otherwise
   * waiting for the parse's other files). A partial it cannot read is left for the day that reads
   * it to report.
   */
  readAhead?(partial: string, catalog: Catalog, catalogKey: string): void;
  /**
   * Every day asked for is answered, and the job asks for none for now: an engine may let go of
   * what it keeps for the next day (threads, their arrays) while the job writes the last files.
   * A day asked for after it is computed as any other.
   */
  idle?(): Promise<void>;
  close(): Promise<void>;
}
