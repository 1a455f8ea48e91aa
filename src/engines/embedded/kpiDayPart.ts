import { loadDayGroups } from '../../formats/kpiPartials.js';
import { aggregateDay, type DayAggregate } from '../../kpis/genreKpis.js';
import type { GroupArrays } from '../../kpis/streamDays.js';
import type { KpiDayPartTask } from './tasks.js';

/**
 * One part of a day aggregated: the rows of the users in part `part` of `parts`, grouped in
 * `arrays` (the thread's, kept from one part to the next). What a worker computes for a
 * KpiDayPartTask, and this thread for each part when it has no workers.
 */
export function aggregateDayPart(task: Omit<KpiDayPartTask, 'kind'>, arrays: GroupArrays): DayAggregate {
  const { part, parts, users } = task;
  const groups = loadDayGroups(task.sources, users, arrays, { part, parts });
  return aggregateDay(groups, users, task.catalog, task.granularity, arrays.kernel());
}
