// When the network comes back (the window's `online` event) or the page is
// shown again (`visibilitychange` to visible: a laptop woke up, a phone brought
// the tab to the front), the connection may have died meanwhile without a
// close event. Then a scheduled reconnect is tried at once (on either), and a connection
// that looks ready is pinged at once, so that a dead one is noticed within the
// answer timeout rather than at the next keep-alive ping minutes later.

/** What watchWake needs of ChatClient. */
export interface Wakeable {
  reconnectNow(): void;
  pingNow(): void;
}

type Target = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

/** Listens on window and document; returns a function that stops listening. */
export function watchWake(
  win: Target,
  doc: Target & { readonly visibilityState: string },
  client: () => Wakeable | null,
): () => void {
  const online = () => {
    const c = client();
    c?.reconnectNow();
    c?.pingNow();
  };
  const visible = () => {
    if (doc.visibilityState !== 'visible') return;
    // Someone is looking: a scheduled reconnect is tried now, not in up to 10 s.
    const c = client();
    c?.reconnectNow();
    c?.pingNow();
  };
  win.addEventListener('online', online);
  doc.addEventListener('visibilitychange', visible);
  return () => {
    win.removeEventListener('online', online);
    doc.removeEventListener('visibilitychange', visible);
  };
}
