import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROBLEMS } from '../src/platform/problem.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { probeModule } from './support/probe-module.ts';

type Operation = {
  responses: Record<
    string,
    { headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }
  >;
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { properties?: Record<string, unknown> }>;
    securitySchemes: Record<string, unknown>;
  };
};

let server: TestServer;
let document: Document;
let response: Response;

beforeAll(async () => {
  server = await startTestServer({ modules: [probeModule()] });
  response = await fetch(`${server.url}/openapi.json`);
  document = (await response.json()) as Document;
});

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(document.openapi).toBe('3.1.0');
    // The validator is not a rubber stamp: the same document without `info` fails.
    const { info: _info, ...broken } = structuredClone(document) as unknown as Record<string, unknown>;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('is built once: two fetches return byte-identical documents', async () => {
    const [a, b] = await Promise.all([
      fetch(`${server.url}/openapi.json`).then((r) => r.text()),
      fetch(`${server.url}/openapi.json`).then((r) => r.text()),
    ]);
    expect(a).toBe(b);
    expect(a).toBe(JSON.stringify(document));
  });

  it('declares the security schemes and the Problem schema with every code', () => {
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual([
      'apiKey',
      'refreshCookie',
      'session',
    ]);
    expect(document.components.securitySchemes.refreshCookie).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
      name: '__Host-stowage_refresh',
    });
    expect(document.components.securitySchemes.session).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    const problem = document.components.schemas.Problem;
    expect(Object.keys(problem?.properties ?? {}).sort()).toEqual(
      ['code', 'detail', 'errors', 'instance', 'request_id', 'status', 'title', 'type'].sort(),
    );
    // An open string listing the known codes: a generated client must not break on a new one.
    const code = problem?.properties?.code as { type?: string; enum?: string[]; examples?: string[] };
    expect(code.type).toBe('string');
    expect(code.enum).toBeUndefined();
    expect(code.examples?.sort()).toEqual(Object.keys(PROBLEMS).sort());
  });

  it('documents the problem responses each operation can give, with X-Request-ID on every response', () => {
    // Problem responses and repeated headers are components, referenced by $ref.
    const resolve = <T>(value: T | { $ref: string }): T => {
      if (value && typeof value === 'object' && '$ref' in value) {
        const [, , kind, name] = value.$ref.split('/');
        return (document.components as unknown as Record<string, Record<string, T>>)[kind!]![name!]!;
      }
      return value as T;
    };
    const create = document.paths['/probe/items/{id}']?.post;
    expect(Object.keys(create?.responses ?? {}).sort()).toEqual([
      '201',
      '400',
      '404',
      '413',
      '415',
      '422',
      '500',
      '503',
    ]);
    for (const [status, reference] of Object.entries(create?.responses ?? {})) {
      const answer = resolve(reference);
      expect(answer.headers, `response ${status}`).toHaveProperty('X-Request-ID');
      if (status !== '201') {
        expect(answer.content?.['application/problem+json']?.schema).toEqual({
          $ref: '#/components/schemas/Problem',
        });
      }
    }
    expect(Object.keys(document.paths['/problems/{code}']?.get?.responses ?? {}).sort()).toEqual([
      '200',
      '400',
      '404',
      '422',
      '500',
      '503',
    ]);
  });

  it('every operation that declares security refuses an anonymous call with 401; the rest do not need it', async () => {
    const secured: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations) as [
        string,
        Operation & { security?: unknown[] },
      ][]) {
        const concrete = path
          .replace(/\{id\}/, 'usr_01jdx5m7kqf3v9r2w8y4t6n0hc')
          .replace(/\{code\}/, 'not_found');
        const response = await fetch(`${server.url}${concrete}`, {
          method: method.toUpperCase(),
          ...(method === 'get' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
        });
        const bearer = operation.security?.some((scheme) =>
          ['session', 'apiKey'].some((name) => name in (scheme as object)),
        );
        if (bearer) {
          secured.push(`${method} ${path}`);
          expect(response.status, `${method} ${path}`).toBe(401);
          expect(response.headers.get('www-authenticate'), `${method} ${path}`).toBe(
            'Bearer realm="stowage"',
          );
          expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
        } else {
          // No bearer challenge where the contract asks for none (refresh's 401 is about its cookie).
          expect(response.headers.get('www-authenticate'), `${method} ${path}`).toBeNull();
        }
      }
    }
    expect(secured.length).toBeGreaterThanOrEqual(11);
  });

  it('every operation that honours Idempotency-Key documents the header and the replay header', () => {
    for (const [path, method] of [
      ['/v1/api-keys', 'post'],
      ['/v1/documents', 'post'],
    ] as const) {
      const operation = document.paths[path]?.[method] as Operation & {
        parameters?: { name: string; in: string }[];
      };
      expect(operation.parameters, `${method} ${path}`).toContainEqual(
        expect.objectContaining({ name: 'idempotency-key', in: 'header' }),
      );
      expect(operation.responses['201']?.headers).toHaveProperty('Idempotent-Replayed');
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['409', '422']));
    }
  });

  it('leaves operational endpoints out of the public document', () => {
    for (const path of ['/livez', '/readyz', '/startupz', '/openapi.json', '/docs']) {
      expect(document.paths).not.toHaveProperty(path);
    }
  });
});

describe('/problems/{code}', () => {
  it('documents every code the API can answer with', async () => {
    for (const [code, spec] of Object.entries(PROBLEMS)) {
      const page = await fetch(`${server.url}/problems/${code}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=UTF-8');
      const html = await page.text();
      expect(html).toContain(`<h1>${spec.title}</h1>`);
      expect(html).toContain(`HTTP status <strong>${spec.status}</strong>`);
      expect(html).not.toContain('`');
    }
    const rateLimited = await (await fetch(`${server.url}/problems/rate_limited`)).text();
    expect(rateLimited).toContain('<code>Retry-After</code>');
  });

  it('unknown and malformed codes are problems themselves', async () => {
    const unknown = await fetch(`${server.url}/problems/no_such_code`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      code: 'not_found',
      detail: 'No problem type "no_such_code"; /problems lists every code',
    });
    const malformed = await fetch(`${server.url}/problems/Bad-Code`);
    expect(malformed.status).toBe(422);
    expect(await malformed.json()).toMatchObject({
      code: 'validation_failed',
      errors: [{ location: 'path', path: 'code' }],
    });
  });
});
