// The page and the server's budget (docs/protocol.md, *Rate limits*): every
// action has a price, a ping's too. A ping the budget refuses is still an
// answer (the connection is alive); it is nothing the person did, so the
// page is not handed it to show.
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { ChatClient } from '../src/client';
import type { ServerFrame } from '../src/protocol';
import { FakeSocket, state } from './fakes';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('a ping refused by the budget keeps the connection and is not shown', () => {
  const sockets: FakeSocket[] = [];
  const frames: ServerFrame[] = [];
  const client = new ChatClient(
    {
      url: 'ws://127.0.0.1:8080/local',
      name: 'Alice',
      room: 'lobby',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0.5,
      pingIntervalMs: 60_000,
      pongTimeoutMs: 10_000,
    },
    { frame: (f) => frames.push(f) },
  );
  client.start();
  const s = sockets[0];
  s.open();
  s.receive(state('Alice'));
  vi.advanceTimersByTime(60_000);
  expect(s.actions()).toContain('ping');
  s.receive({
    type: 'error',
    code: 'rate_limited',
    message: 'Too many requests: at most 20 units in 10s, and ping costs 1. Try again in 3.0 s.',
    retryAfterMs: 3000,
    action: 'ping',
  });
  // Answered: no timeout drops the connection, and nothing to show.
  vi.advanceTimersByTime(59_000);
  expect(client.state.state).toBe('ready');
  expect(sockets).toHaveLength(1);
  expect(frames.filter((f) => f.type === 'error')).toEqual([]);
});
