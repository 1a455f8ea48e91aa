/** Milliseconds in a UTC day: day numbers (see ops/dates.ts) times this are instants. */
export const DAY_MS = 86_400_000;
