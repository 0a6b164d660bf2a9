// A thin client over a real server for the account tests: JSON requests, sessions with their refresh
// cookie, and typed bodies.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestServer } from './harness.ts';
import { rememberExchange, rememberSecret } from './log-audit.ts';

// Response bodies are checked field by field with expect(); typing each one would add nothing.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = Record<string, any>;

export type Session = {
  accessToken: string;
  refreshCookie: string;
  user: Json;
  email: string;
  password: string;
};

export const uniqueEmail = (tag = 'user') => `${tag}-${randomBytes(4).toString('hex')}@example.com`;
export const PASSWORD = 'correct horse battery staple';
rememberSecret('password', PASSWORD);

export function api(server: TestServer) {
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const body =
      text && /json/.test(response.headers.get('content-type') ?? '')
        ? (JSON.parse(text) as Json)
        : undefined;
    // Credentials sent and tokens received may never show up in a log line of the run (log-audit.ts).
    rememberExchange(options.body, body, response.headers.getSetCookie());
    return { status: response.status, headers: response.headers, body, text };
  };

  /** The `__Host-stowage_refresh=…` pair from a Set-Cookie header, ready to send back. */
  const refreshCookieOf = (headers: Headers) =>
    headers
      .getSetCookie()
      .map((cookie) => cookie.split(';')[0]!)
      .find((pair) => pair.startsWith('__Host-stowage_refresh='));

  return {
    call,
    refreshCookieOf,
    async register(email = uniqueEmail(), password = PASSWORD, name?: string) {
      const response = await call('POST', '/v1/auth/register', { body: { email, password, name } });
      expect(response.status, response.text).toBe(201);
      return response.body!.user as Json;
    },
    async login(email: string, password = PASSWORD): Promise<Session> {
      const response = await call('POST', '/v1/auth/login', { body: { email, password } });
      expect(response.status, response.text).toBe(200);
      return {
        accessToken: response.body!.access_token,
        refreshCookie: refreshCookieOf(response.headers)!,
        user: response.body!.user,
        email,
        password,
      };
    },
    /** A fresh account, signed in. */
    async signUp(tag = 'user'): Promise<Session> {
      const email = uniqueEmail(tag);
      await this.register(email);
      return this.login(email);
    },
  };
}
