/** Small DOM helpers: no framework, just elements with their text set (never innerHTML). */

import { stopDrawing } from './charts.js';

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** The element with this id; a missing one is a bug in index.html, said loudly. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`dashboard: no #${id} in index.html`);
  return node as T;
}

export type PanelState = 'loading' | 'ready' | 'empty' | 'error';

/**
 * Replace `container`'s content with one message. `data-state` on the container says which kind
 * (tests and CSS read it).
 */
export function showMessage(container: HTMLElement, state: Exclude<PanelState, 'ready'>, text: string): void {
  stopDrawing(container);
  container.dataset['state'] = state;
  container.removeAttribute('aria-busy');
  container.replaceChildren(el('p', { class: `message message--${state}`, text }));
}

/**
 * A request for `container` is on its way: what it shows stays, dimmed (no jump while picking
 * another country or date); with nothing shown yet, `text` says what is coming.
 */
export function markLoading(container: HTMLElement, text: string): void {
  if (container.dataset['state'] === 'loading') return;
  if (container.dataset['state'] === 'ready') {
    container.dataset['state'] = 'loading';
    container.setAttribute('aria-busy', 'true');
  } else {
    showMessage(container, 'loading', text);
  }
}

export function setReady(container: HTMLElement): void {
  container.dataset['state'] = 'ready';
  container.removeAttribute('aria-busy');
}

/** Fill a <select> with `[value, label]` options and select `selected` (when present). */
export function fillSelect(select: HTMLSelectElement, options: [string, string][], selected?: string): void {
  select.replaceChildren(...options.map(([value, label]) => el('option', { text: label, attrs: { value } })));
  if (selected !== undefined && options.some(([value]) => value === selected)) select.value = selected;
  select.disabled = options.length === 0;
}

/** A table with a header row and one row per item; numeric columns are right-aligned. */
export function table<T>(
  rows: readonly T[],
  columns: { head: string; cell: (row: T) => Node | string; numeric?: boolean }[],
  caption?: string,
): HTMLTableElement {
  const headRow = el(
    'tr',
    {},
    ...columns.map((c) => el('th', { text: c.head, class: c.numeric ? 'num' : '', attrs: { scope: 'col' } })),
  );
  const body = el(
    'tbody',
    {},
    ...rows.map((row) =>
      el(
        'tr',
        {},
        // data-label: a phone shows each row as a card of `label value` lines (styles.css).
        ...columns.map((c) =>
          el('td', { class: c.numeric ? 'num' : '', attrs: { 'data-label': c.head } }, c.cell(row)),
        ),
      ),
    ),
  );
  return el('table', {}, caption ? el('caption', { text: caption }) : null, el('thead', {}, headRow), body);
}
