// The ChatClient harness of the client tests (client*.test.ts): a client on
// fake sockets, recording every callback in order.
import { ChatClient, type ClientOptions, type OutboxItem, type Status } from '../src/client';
import type { ServerFrame, StateFrame, Warning } from '../src/protocol';
import { FakeSocket, state } from './fakes';

export interface Harness {
  client: ChatClient;
  sockets: FakeSocket[];
  last(): FakeSocket;
  frames: ServerFrame[];
  /** The answers to the settle hello. */
  settled: StateFrame[];
  statuses: Status[];
  outbox: OutboxItem[];
  invalid: string[];
  /** Every event in order, as "frame:<type>", "settled" or "warning:<message>". */
  log: string[];
  warnings: Warning[];
}

export function harness(opts: Partial<ClientOptions> = {}): Harness {
  const sockets: FakeSocket[] = [];
  const h: Harness = {
    sockets,
    last: () => sockets[sockets.length - 1],
    frames: [],
    settled: [],
    statuses: [],
    outbox: [],
    invalid: [],
    log: [],
    warnings: [],
    client: undefined as unknown as ChatClient,
  };
  h.client = new ChatClient(
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
      ...opts,
    },
    {
      frame: (f) => {
        h.frames.push(f);
        h.log.push(`frame:${f.type}`);
      },
      settled: (f) => {
        h.settled.push(f);
        h.log.push('settled');
      },
      warning: (w) => {
        h.warnings.push(w);
        h.log.push(`warning:${w.message}`);
      },
      status: (s) => h.statuses.push(s),
      outbox: (i) => h.outbox.push(i),
      invalid: (reason) => h.invalid.push(reason),
    },
  );
  return h;
}

/** Starts the client and brings it to ready as `you`. */
export function ready(h: Harness, you = 'Alice'): FakeSocket {
  if (h.client.state.state === 'stopped') h.client.start();
  const s = h.last();
  s.open();
  s.receive(state(you));
  return s;
}
