/**
 * Plot figures sized from their container: drawn at the container's width, and drawn again when
 * that width changes (a phone turned, a window resized).
 */

interface Drawing {
  draw: (width: number) => Element;
  width: number;
}

const drawings = new WeakMap<Element, Drawing>();
let pending = new Set<HTMLElement>();

const observer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const drawing = drawings.get(entry.target);
    if (drawing && Math.abs(widthOf(entry.target as HTMLElement) - drawing.width) >= 2) {
      pending.add(entry.target as HTMLElement);
    }
  }
  if (pending.size > 0) requestAnimationFrame(redrawPending);
});

function redrawPending(): void {
  const due = pending;
  pending = new Set();
  for (const container of due) {
    const drawing = drawings.get(container);
    if (drawing) paint(container, drawing.draw);
  }
}

function widthOf(container: HTMLElement): number {
  return Math.max(260, Math.floor(container.clientWidth));
}

function paint(container: HTMLElement, draw: (width: number) => Element): void {
  const width = widthOf(container);
  container.replaceChildren(draw(width));
  drawings.set(container, { draw, width });
}

/** Draw `draw(width)` into `container` now and whenever its width changes. */
export function drawSized(container: HTMLElement, draw: (width: number) => Element): void {
  paint(container, draw);
  observer.observe(container);
}

/** The container shows something else now (a message): stop redrawing into it. */
export function stopDrawing(container: HTMLElement): void {
  drawings.delete(container);
  observer.unobserve(container);
}

/**
 * Ticks of a time axis over whole days, `from` to `to`: every k-th day so that they fit in `width`,
 * written as `6 Mar` (Plot's own ticks label a short range `12 AM`, `12 PM`).
 */
export function dayAxis(from: Date, to: Date, width: number): { ticks: Date[]; tickFormat: string } {
  const days = Math.round((to.getTime() - from.getTime()) / 86_400_000) + 1;
  const step = Math.ceil(days / Math.max(2, Math.floor(width / 60)));
  const ticks: Date[] = [];
  for (let i = 0; i < days; i += step) ticks.push(new Date(from.getTime() + i * 86_400_000));
  return { ticks, tickFormat: '%-d %b' };
}

/** The labels of a band axis of `YYYY-MM-DD` days: every k-th day so that they fit in `width`. */
export function dayBandTicks(
  days: string[],
  width: number,
): { ticks: string[]; tickFormat: (d: string) => string } {
  const step = Math.ceil(days.length / Math.max(2, Math.floor(width / 60)));
  return {
    ticks: days.filter((_, i) => i % step === 0),
    tickFormat: (d: string) =>
      new Date(`${d}T00:00:00Z`).toLocaleDateString('en-GB', {
        day: 'numeric',
        month: 'short',
        timeZone: 'UTC',
      }),
  };
}
