// Entry point: learn the WebSocket URL, then start the page.
import './style.css';
import { ChatApp } from './app';
import { loadConfig } from './config';

const config = await loadConfig();
const ping = Number(new URL(window.location.href).searchParams.get('ping') ?? '');
new ChatApp({ wsUrl: config.wsUrl, pingIntervalMs: ping > 0 ? ping * 1000 : undefined });
