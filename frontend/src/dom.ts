// Small DOM helpers. Everything that came from the network is put on the page
// with textContent or an attribute, never parsed as HTML.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from index.html`);
  return e as T;
}

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text !== undefined) e.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

export function clockTime(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function timeEl(ts: number): HTMLTimeElement {
  const d = new Date(ts);
  return el('time', { text: clockTime(ts), attrs: { datetime: d.toISOString(), title: d.toLocaleString() } });
}

/** Hues far enough apart to tell senders apart; violet is left to private messages. */
const HUES = [0, 25, 210, 140, 165, 95, 45, 320];

/** A stable hue per name (FNV-1a of the lower-cased name picks one of HUES). */
export function nameHue(name: string): number {
  let h = 2166136261;
  for (const ch of name.toLowerCase()) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return HUES[h % HUES.length];
}
