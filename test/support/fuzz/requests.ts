// Requests generated from /openapi.json: valid ones (values from each operation's schemas, real ids
// and credentials) and mutated ones (wrong types, boundaries, hostile strings, broken framing, odd
// methods, bad credentials). Each request is plain data, so a failure prints exactly what to replay.
import fc from 'fast-check';
import { arbitraryFor, type Components, resolve, type Schema } from './schema-arbitrary.ts';

type Parameter = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
};
export type OpenApiDocument = {
  paths: Record<string, Record<string, Operation>>;
  components: Components;
};

export type Endpoint = {
  name: string;
  method: string;
  template: string;
  operation: Operation;
  statuses: number[];
  secured: boolean;
};

export type FuzzRequest = {
  endpoint: string;
  mutation: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Base64 of a binary body (multipart), kept printable for the failure report. */
  bodyBase64?: string;
  /** Sent over a raw socket: the bytes of the whole request (headers and body). */
  raw?: string;
  /** A JSON body padded to this many bytes, built when sent (thousands of them would not fit in memory). */
  padBytes?: number;
  /** Statuses the document promises for this operation; undefined for unmatched routes. */
  documented?: number[];
};

/** What the run knows: credentials by label and ids that exist or existed (own, foreign, deleted). */
export type FuzzWorld = {
  credentials: Record<string, string>;
  ids: string[];
  host: string;
};

export function endpointsOf(document: OpenApiDocument): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      endpoints.push({
        name: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        operation,
        statuses: Object.keys(operation.responses).map(Number),
        secured: Boolean(operation.security?.length),
      });
    }
  }
  return endpoints;
}

/** Strings that broke or could break something: NUL, lone surrogates, huge, control, injection. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d',
  '\u202e\u0000evil',
  '\r\n',
  '\t\u0007\u001b[31m',
  '../../../../etc/passwd',
  '..\\..\\windows',
  '/absolute/path',
  "' OR 1=1 --",
  '"; drop table users; --',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style probe, sent literally
  '${jndi:ldap://127.0.0.1/x}',
  '<script>alert(1)</script>',
  '%00',
  '%ff%fe',
  '%',
  '𝕏'.repeat(300),
  '\u00e9\u0301'.repeat(100),
  'A'.repeat(70_000),
  '-1',
  '0',
  '1e309',
  '0x10',
  'NaN',
  'null',
  'true',
  '{}',
  '[]',
  'doc_00000000000000000000000000',
  'usr_7zzzzzzzzzzzzzzzzzzzzzzzzz',
  '__proto__',
  'constructor',
];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
);

/** A value of the wrong kind for any field: other types, boundaries, hostile strings, deep nesting. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(
    -1,
    0,
    -0,
    2 ** 31,
    2 ** 53 + 2,
    1e308,
    -1e308,
    0.5,
    true,
    false,
    null,
    [],
    {},
    [null],
    { $ne: null },
    { __proto__: { admin: true } },
  ),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Path and query text: strings must survive percent-encoding even when they are not valid UTF-16. */
function encode(value: string): string {
  if (/^%/.test(value)) return value; // already "encoded" garbage: send as is
  // Code point by code point: a lone surrogate has no UTF-8 form, so it goes as the bytes a careless
  // client would send (its CESU-8 encoding); everything else is percent-encoded as usual.
  return Array.from(value, (char) =>
    char.isWellFormed()
      ? encodeURIComponent(char)
      : `%ED%${(0xa0 + ((char.charCodeAt(0) >> 6) & 0x1f)).toString(16).toUpperCase()}%${(0x80 + (char.charCodeAt(0) & 0x3f)).toString(16).toUpperCase()}`,
  ).join('');
}

function pathArbitrary(endpoint: Endpoint, world: FuzzWorld, hostile: boolean): fc.Arbitrary<string> {
  const names = [...endpoint.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  if (!names.length) return fc.constant(endpoint.template);
  // The pool grows while the run creates resources: index it when the request is built, not before.
  const idArbitrary = hostile
    ? hostileString.map(encode)
    : fc.oneof(
        { weight: 4, arbitrary: fc.nat().map((i) => world.ids[i % world.ids.length] ?? 'doc_x') },
        { weight: 1, arbitrary: fc.constantFrom('problem', 'not_found', 'validation_failed', 'x') },
      );
  return fc
    .tuple(...names.map(() => idArbitrary))
    .map((values) =>
      names.reduce((path, name, i) => path.replace(`{${name}}`, values[i]!), endpoint.template),
    );
}

function queryArbitrary(endpoint: Endpoint, components: Components, hostile: boolean): fc.Arbitrary<string> {
  const params = (endpoint.operation.parameters ?? []).filter((p) => p.in === 'query');
  const pairs = params.map((p) =>
    fc.option(
      hostile
        ? fc.oneof(
            hostileString,
            wrongValue.map((v) => JSON.stringify(v) ?? ''),
          )
        : arbitraryFor(p.schema, components).map(String),
      { nil: undefined, freq: 2 },
    ),
  );
  const extra = hostile
    ? fc.option(fc.tuple(fc.constantFrom('limit', 'cursor', 'unknown', 'order', ''), hostileString), {
        nil: undefined,
      })
    : fc.constant(undefined);
  return fc.tuple(fc.tuple(...pairs), extra).map(([values, more]) => {
    const parts = params.flatMap((p, i) =>
      values[i] === undefined ? [] : [`${encodeURIComponent(p.name)}=${encode(values[i]!)}`],
    );
    if (more) parts.push(`${more[0]}=${encode(more[1])}`);
    return parts.length ? `?${parts.join('&')}` : '';
  });
}

function headerParams(endpoint: Endpoint, components: Components, hostile: boolean) {
  const params = (endpoint.operation.parameters ?? []).filter((p) => p.in === 'header');
  return fc
    .tuple(
      ...params.map((p) =>
        fc.option(
          hostile
            ? fc.constantFrom(
                '*',
                '"x"',
                'W/"x"',
                'x',
                '""',
                'bytes=0-0',
                'bytes=9-1',
                'bytes=-0',
                'a'.repeat(300),
              )
            : // A header value is visible ASCII: what a client library would send at all.
              arbitraryFor(p.schema, components).map((v) => String(v).replace(/[^\x20-\x7e]/g, '')),
          { nil: undefined },
        ),
      ),
    )
    .map((values) =>
      Object.fromEntries(params.flatMap((p, i) => (values[i] === undefined ? [] : [[p.name, values[i]!]]))),
    );
}

/** Sets `value` at a random property path of a JSON value (or replaces it when it has none). */
function mutateJson(value: unknown): fc.Arbitrary<{ body: unknown; how: string }> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return wrongValue.map((v) => ({ body: v, how: 'body replaced' }));
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  return fc.oneof(
    fc.record({ key: fc.constantFrom(...(keys.length ? keys : ['x'])), v: wrongValue }).map(({ key, v }) => ({
      body: { ...record, [key]: v },
      how: `field ${key} replaced`,
    })),
    fc.constantFrom(...(keys.length ? keys : ['x'])).map((key) => {
      const { [key]: _removed, ...rest } = record;
      return { body: rest, how: `field ${key} removed` };
    }),
    fc.record({ key: hostileString, v: wrongValue }).map(({ key, v }) => ({
      body: { ...record, [key]: v },
      how: 'extra field',
    })),
  );
}

const MALFORMED_JSON = [
  '',
  '{',
  '{"email":',
  '{"a":1}garbage',
  'nul',
  '\ufeff{}',
  "{'single':'quotes'}",
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
  `{"metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
  '{"__proto__":{"role":"admin"}}',
  '1e99999',
];

function multipartBody(
  fields: Record<string, string>,
  file: { name: string; type?: string; bytes: string } | null,
) {
  const boundary = 'fuzzBoundary7MA4YWxk';
  let text = '';
  for (const [name, value] of Object.entries(fields)) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  if (file) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n`;
    if (file.type !== undefined) text += `Content-Type: ${file.type}\r\n`;
    text += `\r\n${file.bytes}\r\n`;
  }
  text += `--${boundary}--\r\n`;
  return { contentType: `multipart/form-data; boundary=${boundary}`, text };
}

const fileName = fc.oneof(
  fc.constantFrom('report.pdf', 'résumé.pdf', '履歴書.pdf', 'noext', 'a.docx', '.hidden', 'x'.repeat(400)),
  hostileString.filter((s) => !/["\r\n]/.test(s)),
);

function uploadArbitrary(hostile: boolean): fc.Arbitrary<{ contentType: string; body: Buffer; how: string }> {
  const valid = fc
    .record({
      name: fc.option(fc.string({ minLength: 1, maxLength: 50 }), { nil: undefined }),
      metadata: fc.option(
        fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        {
          nil: undefined,
        },
      ),
      file: fc.record({
        name: fileName.filter((s) => s.isWellFormed() && !s.includes('\u0000')),
        type: fc.option(
          fc.constantFrom('application/pdf', 'text/plain', 'image/png', 'application/octet-stream'),
          {
            nil: undefined,
          },
        ),
        bytes: fc.string({ maxLength: 200 }),
      }),
    })
    .map(({ name, metadata, file }) => {
      const fields: Record<string, string> = {};
      if (name !== undefined) fields.name = name;
      if (metadata !== undefined) fields.metadata = JSON.stringify(metadata);
      const { contentType, text } = multipartBody(fields, file);
      return { contentType, body: Buffer.from(text), how: 'valid upload' };
    });
  if (!hostile) return valid;
  return fc.oneof(
    fc
      .record({
        name: hostileString,
        metadata: fc.oneof(
          hostileString,
          wrongValue.map((v) => JSON.stringify(v) ?? ''),
        ),
      })
      .map(({ name, metadata }) => {
        const { contentType, text } = multipartBody({ name, metadata }, { name: 'a.pdf', bytes: 'x' });
        return { contentType, body: Buffer.from(text), how: 'hostile fields' };
      }),
    fc
      .record({
        name: fileName,
        type: fc.constantFrom('', 'garbage', 'text/', ';;;', 'image/png; x="', 'a/b/c'),
      })
      .map(({ name, type }) => {
        const { contentType, text } = multipartBody({}, { name, type, bytes: 'bytes' });
        return { contentType, body: Buffer.from(text), how: 'odd part type or file name' };
      }),
    fc.constant(null).map(() => {
      const { contentType, text } = multipartBody({ name: 'no file' }, null);
      return { contentType, body: Buffer.from(text), how: 'no file part' };
    }),
    fc.integer({ min: 1, max: 200 }).chain((cut) =>
      valid.map((v) => ({
        ...v,
        body: v.body.subarray(0, Math.max(0, v.body.length - cut)),
        how: 'framing cut short',
      })),
    ),
    fc
      .constantFrom(
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'multipart/form-data; boundary=other',
      )
      .map((contentType) => ({
        contentType,
        body: Buffer.from(multipartBody({}, { name: 'a', bytes: 'b' }).text),
        how: 'bad boundary',
      })),
  );
}

const ODD_METHODS = ['PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECTX', 'HEAD'];

const HOSTILE_HEADERS: fc.Arbitrary<Record<string, string>> = fc.constantFrom<Record<string, string>>(
  { 'x-request-id': 'a'.repeat(500) },
  { 'x-request-id': '../../../etc' },
  { 'x-forwarded-for': '1.2.3.4, not-an-ip, ::1' },
  { traceparent: '00-zzzz-yyyy-01' },
  { accept: 'application/xml' },
  { origin: 'https://evil.example' },
  { 'content-encoding': 'gzip' },
  { 'idempotency-key': '' },
  { 'idempotency-key': '"unterminated' },
  { cookie: '__Host-stowage_refresh=garbage' },
  {
    range:
      'bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33',
  },
);

/** Whole requests over a raw socket: framing an HTTP client library would refuse to send. */
function rawArbitrary(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const token = world.credentials.session ?? '';
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
  const upload = multipartBody({}, { name: 'r.pdf', type: 'application/pdf', bytes: 'x'.repeat(500) });
  const cases: Array<[string, string]> = [
    ['request line garbage', 'GARBAGE\r\n\r\n'],
    ['NUL in header value', head(['GET /v1/me HTTP/1.1', `Host: ${world.host}`, 'X-Test: a\u0000b'])],
    ['bare CR in header', head(['GET /v1/me HTTP/1.1', `Host: ${world.host}`, 'X-Test: a\rb'])],
    ['obs-fold header', head(['GET /v1/me HTTP/1.1', `Host: ${world.host}`, 'X-Test: a', ' folded'])],
    ['huge header', head(['GET /v1/me HTTP/1.1', `Host: ${world.host}`, `X-Big: ${'a'.repeat(20_000)}`])],
    [
      'CL and TE',
      `${head([
        'POST /v1/auth/login HTTP/1.1',
        `Host: ${world.host}`,
        'Content-Length: 5',
        'Transfer-Encoding: chunked',
        'Content-Type: application/json',
      ])}0\r\n\r\n`,
    ],
    [
      'bad chunk size',
      `${head([
        'POST /v1/auth/login HTTP/1.1',
        `Host: ${world.host}`,
        'Transfer-Encoding: chunked',
        'Content-Type: application/json',
      ])}zz\r\n{}\r\n0\r\n\r\n`,
    ],
    [
      'two content lengths',
      `${head([
        'POST /v1/auth/login HTTP/1.1',
        `Host: ${world.host}`,
        'Content-Length: 2',
        'Content-Length: 3',
        'Content-Type: application/json',
      ])}{}`,
    ],
    ['HTTP/1.0 no host', 'GET /v1/me HTTP/1.0\r\n\r\n'],
    ['absolute URI', head([`GET http://${world.host}/v1/me HTTP/1.1`, `Host: ${world.host}`])],
    ['path with spaces', head(['GET /v1/doc uments HTTP/1.1', `Host: ${world.host}`])],
    [
      'upload long Content-Length, half-closed',
      head([
        'POST /v1/documents HTTP/1.1',
        `Host: ${world.host}`,
        `Authorization: Bearer ${token}`,
        `Content-Type: ${upload.contentType}`,
        `Content-Length: ${upload.text.length + 1000}`,
      ]) + upload.text,
    ],
    [
      'upload short body, half-closed',
      head([
        'POST /v1/documents HTTP/1.1',
        `Host: ${world.host}`,
        `Authorization: Bearer ${token}`,
        `Content-Type: ${upload.contentType}`,
        `Content-Length: ${upload.text.length}`,
      ]) + upload.text.slice(0, 300),
    ],
    [
      'upload chunked ending mid-part',
      `${head([
        'POST /v1/documents HTTP/1.1',
        `Host: ${world.host}`,
        `Authorization: Bearer ${token}`,
        `Content-Type: ${upload.contentType}`,
        'Transfer-Encoding: chunked',
      ])}100\r\n${upload.text.slice(0, 256)}\r\n`,
    ],
    [
      'upload ending mid part headers',
      head([
        'POST /v1/documents HTTP/1.1',
        `Host: ${world.host}`,
        `Authorization: Bearer ${token}`,
        `Content-Type: ${upload.contentType}`,
        'Content-Length: 400',
      ]) + upload.text.slice(0, 60),
    ],
  ];
  return fc.constantFrom(...cases).map(([mutation, raw]) => ({
    endpoint: 'raw',
    mutation,
    method: raw.split(' ')[0] ?? '',
    path: '',
    headers: {},
    raw,
  }));
}

/** One operation's requests: mostly valid, with every kind of mutation in the rest. */
export function requestArbitrary(document: OpenApiDocument, world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const endpoints = endpointsOf(document);
  const statusesOfPath = new Map<string, number[]>();
  for (const endpoint of endpoints) {
    statusesOfPath.set(endpoint.template, [
      ...(statusesOfPath.get(endpoint.template) ?? []),
      ...endpoint.statuses,
      200,
    ]);
  }
  const credentialLabels = Object.keys(world.credentials);
  const perEndpoint = endpoints.map((endpoint) => {
    const jsonSchema = endpoint.operation.requestBody?.content['application/json']?.schema;
    const multipart = endpoint.operation.requestBody?.content['multipart/form-data'];
    const credential = endpoint.secured
      ? fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(...credentialLabels) },
          { weight: 1, arbitrary: fc.constantFrom('none', 'garbage', 'basic', 'tampered') },
        )
      : fc.constantFrom('none', 'none', 'session');
    const mutation = fc.constantFrom(
      'valid',
      'valid',
      'valid',
      'hostile path',
      'hostile query',
      'hostile headers',
      'body mutated',
      'malformed json',
      'wrong content type',
      'oversized body',
      'odd method',
    );
    return (
      fc
        .record({
          mutation,
          credential,
          validPath: pathArbitrary(endpoint, world, false),
          hostilePath: pathArbitrary(endpoint, world, true),
          validQuery: queryArbitrary(endpoint, document.components, false),
          hostileQuery: queryArbitrary(endpoint, document.components, true),
          params: headerParams(endpoint, document.components, false),
          hostileParams: headerParams(endpoint, document.components, true),
          extraHeaders: HOSTILE_HEADERS,
          body: jsonSchema
            ? arbitraryFor(resolve(jsonSchema, document.components), document.components)
            : fc.constant(undefined),
          upload: multipart ? uploadArbitrary(false) : fc.constant(undefined),
          hostileUpload: multipart ? uploadArbitrary(true) : fc.constant(undefined),
          oddMethod: fc.constantFrom(...ODD_METHODS),
          malformed: fc.constantFrom(...MALFORMED_JSON),
        })
        .chain((r) =>
          (r.mutation === 'body mutated' && r.body !== undefined
            ? mutateJson(r.body)
            : fc.constant(undefined)
          ).map((mutated) => ({ ...r, mutated })),
        )
        .map((r): FuzzRequest => {
          const headers: Record<string, string> = {
            ...(r.mutation === 'hostile headers' ? r.hostileParams : r.params),
          };
          const auth = authorization(r.credential, world);
          if (auth) headers.authorization = auth;
          if (r.mutation === 'hostile headers') Object.assign(headers, r.extraHeaders);
          let method = endpoint.method;
          const path =
            (r.mutation === 'hostile path' ? r.hostilePath : r.validPath) +
            (r.mutation === 'hostile query' ? r.hostileQuery : r.validQuery);
          const request: FuzzRequest = {
            endpoint: endpoint.name,
            mutation: r.mutation,
            method,
            path,
            headers,
          };
          if (r.mutation === 'odd method') {
            method = r.oddMethod;
            request.method = method;
            request.mutation = `odd method ${method}`;
            return request;
          }
          if (jsonSchema) {
            headers['content-type'] = 'application/json';
            if (r.mutation === 'malformed json') request.body = r.malformed;
            else if (r.mutation === 'oversized body') request.padBytes = 2 * 1024 * 1024;
            else if (r.mutation === 'wrong content type') {
              headers['content-type'] = 'text/plain';
              request.body = JSON.stringify(r.body ?? {});
            } else if (r.mutated) {
              request.body = JSON.stringify(r.mutated.body) ?? 'null';
              request.mutation = `body mutated: ${r.mutated.how}`;
            } else request.body = JSON.stringify(r.body ?? {});
          } else if (multipart) {
            const hostile = ['body mutated', 'malformed json', 'oversized body'].includes(r.mutation);
            const built = hostile ? r.hostileUpload! : r.upload!;
            headers['content-type'] =
              r.mutation === 'wrong content type' ? 'application/json' : built.contentType;
            request.bodyBase64 = built.body.toString('base64');
            request.mutation = hostile ? `upload: ${built.how}` : r.mutation;
          }
          return request;
        })
        // Another method on the same path is answered by that path's other operations (or 405).
        .map((request) => ({
          ...request,
          documented:
            request.method === endpoint.method ? endpoint.statuses : statusesOfPath.get(endpoint.template),
        }))
    );
  });
  const unmatched = fc
    .record({
      path: fc.oneof(
        hostileString.map((s) => `/${encode(s)}`),
        fc.constantFrom('/v2/me', '/v1', '/v1/documents/', '//v1//me', '/v1/me/', '/.env', '/metrics'),
      ),
      method: fc.constantFrom('GET', 'POST', 'DELETE'),
    })
    .map(
      ({ path, method }): FuzzRequest => ({
        endpoint: 'unmatched',
        mutation: 'unknown path',
        method,
        path,
        headers: {},
      }),
    );
  return fc.oneof(
    { weight: 20, arbitrary: fc.oneof(...perEndpoint) },
    { weight: 2, arbitrary: unmatched },
    { weight: 1, arbitrary: rawArbitrary(world) },
  );
}

function authorization(label: string, world: FuzzWorld): string | undefined {
  switch (label) {
    case 'none':
      return undefined;
    case 'garbage':
      return 'Bearer \u00ff\u00fe-not-a-token';
    case 'basic':
      return 'Basic dXNlcjpwYXNz';
    case 'tampered': {
      const token = world.credentials.session ?? 'a.b.c';
      const [h, p] = token.split('.');
      return `Bearer ${h}.${p}.AAAA`;
    }
    default:
      return `Bearer ${world.credentials[label]}`;
  }
}
