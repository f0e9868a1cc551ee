// Where the page learns the WebSocket URL: ?ws=, then config.json, then a
// guess; and what the build writes into dist/config.json.
import { describe, expect, it, vi } from 'vitest';
import { configJson, runtimeConfig } from '../build/runtime-config';
import { authSetting, fallbackUrl, loadConfig } from '../src/config';

const loc = (href: string) => {
  const u = new URL(href);
  return { href, protocol: u.protocol, host: u.host };
};

function answering(body: unknown, ok = true): typeof fetch {
  return vi.fn(async () => ({ ok, json: async () => body }) as Response);
}

describe('loadConfig', () => {
  it('reads wsUrl from config.json next to the page', async () => {
    const f = answering({ wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod' });
    const c = await loadConfig(loc('https://main.d1.amplifyapp.com/'), f);
    expect(c).toEqual({ wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod', source: 'config.json', auth: { mode: 'none' } });
    expect(f).toHaveBeenCalledWith('https://main.d1.amplifyapp.com/config.json', { cache: 'no-store' });
  });

  it('prefers a ?ws= override', async () => {
    const f = answering({ wsUrl: 'wss://x.example/prod' });
    const c = await loadConfig(loc('http://127.0.0.1:5173/?ws=ws%3A%2F%2F127.0.0.1%3A8080%2Flocal'), f);
    expect(c).toEqual({ wsUrl: 'ws://127.0.0.1:8080/local', source: 'query', auth: { mode: 'none' } });
    expect(f).not.toHaveBeenCalled();
  });

  it('ignores ?ws= on a production build served from a real host', async () => {
    const f = answering({ wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod' });
    const c = await loadConfig(loc('https://main.d1.amplifyapp.com/?ws=wss%3A%2F%2Fattacker.example%2Fx'), f, false);
    expect(c).toEqual({ wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod', source: 'config.json', auth: { mode: 'none' } });
    const sneaky = await loadConfig(loc('https://127.0.0.1.attacker.example/?ws=wss%3A%2F%2Fattacker.example%2Fx'), f, false);
    expect(sneaky.source).toBe('config.json');
  });

  it.each(['http://127.0.0.1:8080/', 'http://localhost:5173/', 'http://[::1]:8080/'])(
    'honours ?ws= on a production build served from this machine (%s)',
    async (page) => {
      const c = await loadConfig(loc(`${page}?ws=ws%3A%2F%2F127.0.0.1%3A9000%2Flocal`), answering({}), false);
      expect(c).toEqual({ wsUrl: 'ws://127.0.0.1:9000/local', source: 'query', auth: { mode: 'none' } });
    },
  );

  it('honours ?ws= from any host in a development build', async () => {
    const c = await loadConfig(loc('http://devbox.lan:5173/?ws=ws%3A%2F%2Fdevbox.lan%3A8080%2Flocal'), answering({}), true);
    expect(c).toEqual({ wsUrl: 'ws://devbox.lan:8080/local', source: 'query', auth: { mode: 'none' } });
  });

  it('ignores an override that is not a WebSocket URL', async () => {
    const c = await loadConfig(loc('http://127.0.0.1:8080/?ws=javascript:alert(1)'), answering({ wsUrl: 'ws://127.0.0.1:8080/local' }));
    expect(c.source).toBe('config.json');
  });

  it.each([
    ['config.json is missing', answering({}, false)],
    ['config.json has no wsUrl', answering({ other: 1 })],
    ['config.json has an http URL', answering({ wsUrl: 'http://x/' })],
    ['fetch fails', vi.fn(async () => Promise.reject(new Error('offline'))) as unknown as typeof fetch],
  ])('falls back to this host\'s local stage when %s', async (_, f) => {
    const c = await loadConfig(loc('http://127.0.0.1:8080/'), f);
    expect(c).toEqual({ wsUrl: 'ws://127.0.0.1:8080/local', source: 'fallback', auth: { mode: 'none' } });
  });

  it('reads the sign-in settings from config.json', async () => {
    const f = answering({
      wsUrl: 'ws://127.0.0.1:8080/local',
      auth: 'cognito',
      userPoolId: 'local_abc',
      userPoolClientId: 'client1',
      userPoolEndpoint: 'http://127.0.0.1:9229',
      issuer: 'http://127.0.0.1:9229/local_abc',
    });
    const c = await loadConfig(loc('http://127.0.0.1:8080/'), f);
    expect(c.auth).toEqual({
      mode: 'cognito',
      userPoolId: 'local_abc',
      userPoolClientId: 'client1',
      userPoolEndpoint: 'http://127.0.0.1:9229',
      signUp: false,
    });
  });

  it('guesses wss:// for a page served over https', () => {
    expect(fallbackUrl({ protocol: 'https:', host: 'chat.example' })).toBe('wss://chat.example/local');
  });
});

describe('authSetting', () => {
  const pool = { userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'client1' };

  it.each([
    ['no auth field', {}],
    ['auth "none"', { auth: 'none', ...pool }],
    ['no body', null],
  ])('is open with %s', (_, body) => {
    expect(authSetting(body)).toEqual({ mode: 'none' });
  });

  it('signs in with AWS\'s Cognito (SRP) without an endpoint, and offers sign-up only when told', () => {
    expect(authSetting({ auth: 'cognito', ...pool })).toEqual({ mode: 'cognito', ...pool, signUp: false });
    expect(authSetting({ auth: 'cognito', ...pool, signUp: true })).toEqual({ mode: 'cognito', ...pool, signUp: true });
  });

  it.each([
    ['an unknown mode', { auth: 'oidc', ...pool }, /"oidc"/],
    ['no pool id', { auth: 'cognito', userPoolClientId: 'c' }, /userPoolId/],
    ['no client id', { auth: 'cognito', userPoolId: 'p' }, /userPoolClientId/],
    ['an endpoint that is no URL', { auth: 'cognito', ...pool, userPoolEndpoint: 'javascript:x' }, /userPoolEndpoint/],
  ])('is broken, saying why, with %s', (_, body, why) => {
    const a = authSetting(body);
    expect(a.mode).toBe('broken');
    expect(a.mode === 'broken' && a.problem).toMatch(why);
  });
});

describe('the build\'s config.json', () => {
  function emitted(env: Record<string, string | undefined>): unknown[] {
    const files: unknown[] = [];
    const plugin = runtimeConfig(env);
    const hook = plugin.generateBundle as (this: unknown) => void;
    hook.call({ emitFile: (f: unknown) => files.push(f) });
    return files;
  }

  it('writes GROUPCHAT_WS_URL into config.json', () => {
    expect(emitted({ GROUPCHAT_WS_URL: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod' })).toEqual([
      { type: 'asset', fileName: 'config.json', source: '{"wsUrl":"wss://abc.execute-api.eu-west-1.amazonaws.com/prod"}\n' },
    ]);
  });

  it('adds the user pool when sign-in is on, with the field names of contract.PageConfig', () => {
    const [file] = emitted({
      GROUPCHAT_WS_URL: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
      GROUPCHAT_AUTH_REGION: 'eu-west-1',
      GROUPCHAT_USER_POOL_ID: 'eu-west-1_AbC123',
      GROUPCHAT_USER_POOL_CLIENT_ID: 'client1',
      GROUPCHAT_AUTH_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
    }) as Array<{ source: string }>;
    const body = JSON.parse(file.source);
    expect(body).toEqual({
      wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
      auth: 'cognito',
      region: 'eu-west-1',
      userPoolId: 'eu-west-1_AbC123',
      userPoolClientId: 'client1',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
    });
    // What the page makes of it: SRP against AWS's Cognito, no sign-up offered.
    expect(authSetting(body)).toEqual({ mode: 'cognito', userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'client1', signUp: false });
  });

  it('offers sign-up only where the pool allows it', () => {
    const env = {
      GROUPCHAT_WS_URL: 'wss://x/prod',
      GROUPCHAT_USER_POOL_ID: 'eu-west-1_AbC123',
      GROUPCHAT_USER_POOL_CLIENT_ID: 'client1',
    };
    const [on] = emitted({ ...env, GROUPCHAT_SIGN_UP: 'true' }) as Array<{ source: string }>;
    expect(authSetting(JSON.parse(on.source))).toMatchObject({ mode: 'cognito', signUp: true });
    const [off] = emitted(env) as Array<{ source: string }>;
    expect(JSON.parse(off.source).signUp).toBeUndefined();
  });

  it('fails the build on half a sign-in setting', () => {
    expect(() => emitted({ GROUPCHAT_WS_URL: 'wss://x/prod', GROUPCHAT_USER_POOL_ID: 'eu-west-1_AbC123' })).toThrow(
      /GROUPCHAT_USER_POOL_CLIENT_ID is missing/,
    );
    expect(() => emitted({ GROUPCHAT_USER_POOL_ID: 'p', GROUPCHAT_USER_POOL_CLIENT_ID: 'c' })).toThrow(/without GROUPCHAT_WS_URL/);
  });

  it('writes nothing without the variable', () => {
    expect(emitted({})).toEqual([]);
    expect(emitted({ GROUPCHAT_WS_URL: '  ' })).toEqual([]);
  });

  it('refuses a URL that is not ws:// or wss://', () => {
    expect(() => configJson('https://abc/prod')).toThrow(/GROUPCHAT_WS_URL must be a ws:\/\/ or wss:\/\/ URL/);
  });
});
