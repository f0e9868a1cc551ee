// Entry point: learn the WebSocket URL and whether people sign in, then start
// the page. The sign-in library (amplify-auth.ts) is a chunk of its own,
// loaded only when config.json asks for sign-in. Besides ?ws=, two
// development knobs are read from the query: ?ping=SECONDS (keep-alive
// period) and ?backoff=MS (first reconnect delay; the browser tests use it to
// hold a page in "reconnecting" long enough to type into it).
import './style.css';
import { ChatApp, type AppOptions } from './app';
import { loadConfig } from './config';

const config = await loadConfig();
const query = new URL(window.location.href).searchParams;
const positive = (key: string): number | undefined => {
  const n = Number(query.get(key) ?? '');
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

let signIn: AppOptions['signIn'];
let configProblem: string | undefined;
if (config.auth.mode === 'cognito') {
  try {
    const { createAmplifyAuth } = await import('./amplify-auth');
    signIn = { auth: createAmplifyAuth(config.auth), signUp: config.auth.signUp };
  } catch (err) {
    console.error('sign-in could not start:', err);
    configProblem = 'The sign-in part of this page could not be loaded. Reload the page to try again.';
  }
} else if (config.auth.mode === 'broken') {
  configProblem = config.auth.problem;
}

const ping = positive('ping');
new ChatApp({
  wsUrl: config.wsUrl,
  wsSource: config.source,
  pingIntervalMs: ping && ping * 1000,
  backoffInitialMs: positive('backoff'),
  signIn,
  configProblem,
});
