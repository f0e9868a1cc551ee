// Auth (auth.ts) with Amplify JS v6 against the environment's Cognito user
// pool: the only module that imports the library, and the page loads it only
// when config.json asks for sign-in (a chunk of its own, so the open chat
// does not download it).
//
// Two things depend on the issuer, and config.json says which one it is
// (userPoolEndpoint is present only for the local stack's cognito-local):
//   - the sign-in flow: SRP (Amplify's default; the password never leaves the
//     browser) against Cognito, USER_PASSWORD_AUTH against cognito-local,
//     which has no SRP;
//   - renewal: Amplify renews through GetTokensFromRefreshToken, which
//     cognito-local (5.3.0) answers with a 500; for it alone the tokens are
//     renewed with InitiateAuth REFRESH_TOKEN_AUTH instead (localRefresher).
// Amplify keeps the tokens in localStorage; the page never stores a password.

import { Amplify } from 'aws-amplify';
import {
  confirmSignIn,
  confirmSignUp,
  deleteUser,
  fetchAuthSession,
  signIn,
  signOut,
  signUp,
  type JWT,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { AuthProblem, SessionEnded, type Auth, type IdToken, type SignInStep } from './auth';
import type { CognitoSetting } from './config';

/** Error names the pool answers with, and what the person is told. */
const SENTENCES: Record<string, string> = {
  NotAuthorizedException: 'Incorrect username or password.',
  UserNotFoundException: 'Incorrect username or password.',
  UsernameExistsException: 'That username is taken.',
  CodeMismatchException: 'That code is not right.',
  ExpiredCodeException: 'That code has expired.',
  LimitExceededException: 'Too many attempts. Wait a little and try again.',
  TooManyRequestsException: 'Too many attempts. Wait a little and try again.',
  TooManyFailedAttemptsException: 'Too many attempts. Wait a little and try again.',
  EmptySignInUsername: 'Enter your username.',
  EmptySignInPassword: 'Enter your password.',
  EmptySignUpUsername: 'Enter a username.',
  EmptySignUpPassword: 'Enter a password.',
  NetworkError: 'Cannot reach the sign-in service.',
};

/**
 * The pool's error as a sentence: its own message where it explains itself (a
 * password policy when choosing one), else ours. signingIn: the password was
 * one's own (cognito-local answers a wrong one with InvalidPasswordException).
 */
function problem(err: unknown, signingIn = false): AuthProblem {
  const e = err as { name?: string; message?: string };
  const name = e?.name ?? '';
  if (signingIn && name === 'InvalidPasswordException') return new AuthProblem(SENTENCES.NotAuthorizedException);
  if (SENTENCES[name]) return new AuthProblem(SENTENCES[name]);
  if ((name === 'InvalidPasswordException' || name === 'InvalidParameterException') && e.message) {
    return new AuthProblem(e.message);
  }
  if (err instanceof TypeError) return new AuthProblem(SENTENCES.NetworkError);
  return new AuthProblem(`Sign-in failed${e?.message ? `: ${e.message}` : '.'}`);
}

function decodeJwt(token: string): JWT {
  const part = token.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  return { payload: JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))), toString: () => token };
}

type Refresher = Parameters<typeof cognitoUserPoolsTokenProvider.tokenOrchestrator.setTokenRefresher>[0];

/**
 * Renews the tokens with InitiateAuth REFRESH_TOKEN_AUTH: for cognito-local,
 * which does not implement GetTokensFromRefreshToken. An error carries the
 * pool's error name, so Amplify clears the session on NotAuthorizedException
 * (a refresh token expired or revoked) and keeps it on anything passing.
 */
export function localRefresher(endpoint: string, clientId: string, fetchFn: typeof fetch = (...a) => fetch(...a)): Refresher {
  return async ({ tokens, username }) => {
    if (!tokens.refreshToken) throw Object.assign(new Error('no refresh token'), { name: 'NotAuthorizedException' });
    const res = await fetchFn(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
      },
      body: JSON.stringify({
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: clientId,
        AuthParameters: { REFRESH_TOKEN: tokens.refreshToken },
      }),
    });
    const body = (await res.json().catch(() => ({}))) as {
      __type?: string;
      message?: string;
      AuthenticationResult?: { IdToken?: string; AccessToken?: string; RefreshToken?: string };
    };
    const r = body.AuthenticationResult;
    if (!res.ok || !r?.AccessToken) {
      const name = (body.__type ?? '').split('#').pop() || `HTTP${res.status}`;
      throw Object.assign(new Error(body.message ?? `refresh failed (${res.status})`), { name });
    }
    const accessToken = decodeJwt(r.AccessToken);
    return {
      accessToken,
      idToken: r.IdToken ? decodeJwt(r.IdToken) : undefined,
      refreshToken: r.RefreshToken ?? tokens.refreshToken,
      clockDrift: (accessToken.payload.iat ?? 0) * 1000 - Date.now(),
      username,
      deviceMetadata: tokens.deviceMetadata,
    };
  };
}

export function createAmplifyAuth(cfg: CognitoSetting): Auth {
  const local = cfg.userPoolEndpoint !== undefined;
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: cfg.userPoolId,
        userPoolClientId: cfg.userPoolClientId,
        ...(local ? { userPoolEndpoint: cfg.userPoolEndpoint } : {}),
        signUpVerificationMethod: 'code',
        loginWith: { username: true },
      },
    },
  });
  if (local) {
    cognitoUserPoolsTokenProvider.tokenOrchestrator.setTokenRefresher(
      localRefresher(cfg.userPoolEndpoint as string, cfg.userPoolClientId),
    );
  }
  const authFlowType = local ? 'USER_PASSWORD_AUTH' : 'USER_SRP_AUTH';

  const idToken = async (fresh: boolean): Promise<IdToken> => {
    let tokens;
    try {
      tokens = (await fetchAuthSession({ forceRefresh: fresh })).tokens;
    } catch (err) {
      throw problem(err); // passing: the issuer could not be reached
    }
    const id = tokens?.idToken;
    if (!id) throw new SessionEnded();
    return { jwt: id.toString(), expiresAt: (id.payload.exp ?? 0) * 1000 };
  };

  /** Amplify's next step as the page's; a step the page does not offer ends the attempt. */
  const step = async (next: string): Promise<SignInStep> => {
    switch (next) {
      case 'DONE':
        return 'done';
      case 'CONFIRM_SIGN_UP':
        return 'confirmSignUp';
      case 'CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED':
        return 'newPassword';
      case 'CONFIRM_SIGN_IN_WITH_TOTP_CODE':
        return 'totpCode';
      default:
        // Setting MFA up, SMS or e-mail codes, …: steps this page does not offer.
        await signOut().catch(() => undefined);
        throw new AuthProblem(`This account needs a sign-in step this page does not offer (${next}).`);
    }
  };

  const attempt = async (username: string, password: string) => {
    try {
      return await signIn({ username, password, options: { authFlowType } });
    } catch (err) {
      if ((err as { name?: string })?.name !== 'UserAlreadyAuthenticatedException') throw err;
      // A session left from before (another account, another tab): replace it.
      await signOut().catch(() => undefined);
      return signIn({ username, password, options: { authFlowType } });
    }
  };

  return {
    async currentUser() {
      try {
        const id = await idToken(false);
        const name = decodeJwt(id.jwt).payload['cognito:username'];
        return typeof name === 'string' ? name : null;
      } catch (err) {
        if (err instanceof SessionEnded) return null;
        throw err;
      }
    },

    async signIn(username, password): Promise<SignInStep> {
      let out;
      try {
        out = await attempt(username, password);
      } catch (err) {
        throw problem(err, true);
      }
      return step(out.nextStep.signInStep);
    },

    async answer(response): Promise<SignInStep> {
      let out;
      try {
        out = await confirmSignIn({ challengeResponse: response });
      } catch (err) {
        throw problem(err);
      }
      return step(out.nextStep.signInStep);
    },

    async signUp(username, password, email) {
      try {
        await signUp({ username, password, options: { userAttributes: email ? { email } : {} } });
      } catch (err) {
        throw problem(err);
      }
    },

    async confirmSignUp(username, code) {
      try {
        await confirmSignUp({ username, confirmationCode: code });
      } catch (err) {
        throw problem(err);
      }
    },

    async signOut(opts) {
      try {
        await signOut({ global: opts?.global === true });
      } catch (err) {
        // The tokens are cleared even when revoking failed. Signing out here
        // only is done then; a global sign-out that failed is said (Amplify
        // reports only some failures: it swallows GlobalSignOut's own).
        if (opts?.global === true) throw problem(err);
      }
    },

    async deleteUser() {
      try {
        await deleteUser(); // Amplify signs out locally once the pool deleted the user
      } catch (err) {
        throw problem(err);
      }
    },

    idToken: ({ fresh }) => idToken(fresh),
  };
}
