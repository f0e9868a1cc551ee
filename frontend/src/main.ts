// Entry point: learn the WebSocket URL, then start the page. Besides ?ws=,
// two development knobs are read from the query: ?ping=SECONDS (keep-alive
// period) and ?backoff=MS (first reconnect delay; the browser tests use it to
// hold a page in "reconnecting" long enough to type into it).
import './style.css';
import { ChatApp } from './app';
import { loadConfig } from './config';

const config = await loadConfig();
const query = new URL(window.location.href).searchParams;
const positive = (key: string): number | undefined => {
  const n = Number(query.get(key) ?? '');
  return Number.isFinite(n) && n > 0 ? n : undefined;
};
const ping = positive('ping');
new ChatApp({
  wsUrl: config.wsUrl,
  wsSource: config.source,
  pingIntervalMs: ping && ping * 1000,
  backoffInitialMs: positive('backoff'),
});
