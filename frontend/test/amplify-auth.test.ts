// The local issuer's renewal (amplify-auth.ts, localRefresher): cognito-local
// does not implement the call Amplify renews with, so the page renews with
// InitiateAuth REFRESH_TOKEN_AUTH; an error keeps the pool's error name, by
// which Amplify tells a refused renewal (the session is cleared) from a
// passing failure.
import { describe, expect, it, vi } from 'vitest';
import { localRefresher } from '../src/amplify-auth';

const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const jwt = (payload: object) => `${b64({ alg: 'RS256', kid: 'CognitoLocal' })}.${b64(payload)}.sig`;

function answering(status: number, body: object) {
  return vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => new Response(JSON.stringify(body), { status }));
}

const old = {
  accessToken: { payload: {}, toString: () => 'old-access' },
  refreshToken: 'refresh-1',
  clockDrift: 0,
  username: 'alice',
};

describe('localRefresher', () => {
  it('renews with REFRESH_TOKEN_AUTH and keeps the refresh token when none comes back', async () => {
    const now = Math.floor(Date.now() / 1000);
    const id = jwt({ sub: 's', 'cognito:username': 'alice', exp: now + 3600, iat: now, token_use: 'id' });
    const access = jwt({ sub: 's', exp: now + 3600, iat: now, token_use: 'access' });
    const f = answering(200, { AuthenticationResult: { IdToken: id, AccessToken: access } });
    const tokens = await localRefresher('http://127.0.0.1:9229', 'client1', f)({ tokens: old, username: 'alice' });
    const [url, init] = f.mock.calls[0];
    expect(url).toBe('http://127.0.0.1:9229');
    expect(init?.headers).toMatchObject({ 'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth' });
    expect(JSON.parse(String(init?.body))).toEqual({
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: 'client1',
      AuthParameters: { REFRESH_TOKEN: 'refresh-1' },
    });
    expect(tokens.idToken?.toString()).toBe(id);
    expect(tokens.idToken?.payload['cognito:username']).toBe('alice');
    expect(tokens.accessToken.toString()).toBe(access);
    expect(tokens.refreshToken).toBe('refresh-1');
    expect(tokens.username).toBe('alice');
  });

  it('fails with the pool\'s error name, so that Amplify ends a refused session', async () => {
    const f = answering(400, { __type: 'NotAuthorizedException', message: 'Refresh Token has expired' });
    await expect(localRefresher('http://127.0.0.1:9229', 'client1', f)({ tokens: old, username: 'alice' })).rejects.toMatchObject({
      name: 'NotAuthorizedException',
    });
  });
});
