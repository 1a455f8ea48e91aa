import { keepUsers, loadDayGroups } from '../../formats/kpiPartials.js';
import { aggregateDay, type DayAggregate } from '../../kpis/genreKpis.js';
import type { KpiDayPartTask } from './tasks.js';

/**
 * One part of a day aggregated: the rows of the users `partOf` puts in `part`. What a worker
 * computes for a KpiDayPartTask, and this thread for each part when it has no workers.
 */
export function aggregateDayPart(task: Omit<KpiDayPartTask, 'kind'>): DayAggregate {
  const { part, partOf, users } = task;
  const groups = loadDayGroups(
    keepUsers(task.sources, (user) => partOf[user] === part),
    users,
  );
  return aggregateDay(groups, users, task.catalog, task.granularity);
}
