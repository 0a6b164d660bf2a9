import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRUSTED_PROXIES,
  PRIVATE_RANGES,
  resolveClient,
  trustedProxies,
} from '../src/platform/client-ip.ts';

// A deployment whose edge sits in the private ranges lists them; the default trusts loopback only.
const proxies = trustedProxies([...DEFAULT_TRUSTED_PROXIES, ...PRIVATE_RANGES]);
const forwardedProxies = trustedProxies([...DEFAULT_TRUSTED_PROXIES, ...PRIVATE_RANGES], 'forwarded');

// [case, socket peer, headers, expected client, expected tls]
const XFF_CASES: [string, string, Record<string, string>, string, boolean | undefined][] = [
  [
    'untrusted peer: the socket, whatever it claims',
    '203.0.113.9',
    { 'x-forwarded-for': '1.1.1.1' },
    '203.0.113.9',
    undefined,
  ],
  [
    'untrusted peer: its X-Forwarded-Proto is ignored',
    '203.0.113.9',
    { 'x-forwarded-proto': 'https' },
    '203.0.113.9',
    undefined,
  ],
  ['trusted peer without a header: the peer', '10.0.0.2', {}, '10.0.0.2', undefined],
  ['one proxy', '10.0.0.2', { 'x-forwarded-for': '198.51.100.7' }, '198.51.100.7', undefined],
  [
    'spoofed leftmost entry never wins',
    '10.0.0.2',
    { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' },
    '198.51.100.7',
    undefined,
  ],
  [
    'two trusted hops are skipped',
    '127.0.0.1',
    { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.1.1, 192.168.3.4' },
    '198.51.100.7',
    undefined,
  ],
  [
    'every hop trusted: the farthest',
    '127.0.0.1',
    { 'x-forwarded-for': '10.9.9.9, 172.16.0.1' },
    '10.9.9.9',
    undefined,
  ],
  [
    'malformed rightmost entry: the proxy itself',
    '10.0.0.2',
    { 'x-forwarded-for': '198.51.100.7, not-an-ip' },
    '10.0.0.2',
    undefined,
  ],
  [
    'malformed entry stops the walk left of a trusted hop',
    '10.0.0.2',
    { 'x-forwarded-for': '6.6.6.6, garbage, 10.0.0.5' },
    '10.0.0.5',
    undefined,
  ],
  ['lax IPv4 forms are malformed', '10.0.0.2', { 'x-forwarded-for': '1.2.3' }, '10.0.0.2', undefined],
  ['empty entries are malformed', '10.0.0.2', { 'x-forwarded-for': '198.51.100.7,,' }, '10.0.0.2', undefined],
  ['IPv4 with a port', '10.0.0.2', { 'x-forwarded-for': '198.51.100.7:4711' }, '198.51.100.7', undefined],
  ['IPv6 client', '10.0.0.2', { 'x-forwarded-for': '2001:db8::1' }, '2001:db8::1', undefined],
  [
    'bracketed IPv6 with a port',
    '10.0.0.2',
    { 'x-forwarded-for': '[2001:DB8::1]:443' },
    '2001:db8::1',
    undefined,
  ],
  [
    'IPv4-mapped IPv6 peer is normalised and trusted',
    '::ffff:127.0.0.1',
    { 'x-forwarded-for': '198.51.100.7' },
    '198.51.100.7',
    undefined,
  ],
  [
    'IPv4-mapped IPv6 entry is normalised',
    '::1',
    { 'x-forwarded-for': '::ffff:198.51.100.7' },
    '198.51.100.7',
    undefined,
  ],
  [
    'IPv4-mapped untrusted peer',
    '::ffff:203.0.113.9',
    { 'x-forwarded-for': '1.1.1.1' },
    '203.0.113.9',
    undefined,
  ],
  [
    'IPv6 unique-local proxy is trusted',
    'fd12::3',
    { 'x-forwarded-for': '198.51.100.7' },
    '198.51.100.7',
    undefined,
  ],
  ['public IPv6 peer is not', '2001:db8::9', { 'x-forwarded-for': '198.51.100.7' }, '2001:db8::9', undefined],
  [
    '172.32/16 is outside 172.16/12',
    '172.32.0.1',
    { 'x-forwarded-for': '198.51.100.7' },
    '172.32.0.1',
    undefined,
  ],
  [
    'TLS stated by the nearest trusted proxy',
    '10.0.0.2',
    { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'http, https' },
    '198.51.100.7',
    true,
  ],
  ['plain HTTP stated', '10.0.0.2', { 'x-forwarded-proto': 'http' }, '10.0.0.2', false],
  [
    'Forwarded is ignored in X-Forwarded-For mode',
    '10.0.0.2',
    { forwarded: 'for=6.6.6.6' },
    '10.0.0.2',
    undefined,
  ],
];

const FORWARDED_CASES: [string, string, Record<string, string>, string, boolean | undefined][] = [
  ['one hop', '10.0.0.2', { forwarded: 'for=198.51.100.7;proto=https' }, '198.51.100.7', true],
  [
    'spoofed leftmost element',
    '10.0.0.2',
    { forwarded: 'for=6.6.6.6, for=198.51.100.7;proto=http' },
    '198.51.100.7',
    false,
  ],
  [
    'quoted IPv6 with a port',
    '10.0.0.2',
    { forwarded: 'for="[2001:db8:cafe::17]:4711"' },
    '2001:db8:cafe::17',
    undefined,
  ],
  ['obfuscated identifier stops the walk', '10.0.0.2', { forwarded: 'for=_hidden' }, '10.0.0.2', undefined],
  ['unparseable header: the peer', '10.0.0.2', { forwarded: 'for=1.2.3.4;;;=' }, '10.0.0.2', undefined],
  [
    'X-Forwarded-For is ignored in Forwarded mode',
    '10.0.0.2',
    { 'x-forwarded-for': '6.6.6.6' },
    '10.0.0.2',
    undefined,
  ],
];

describe('client IP from the trusted-proxy rules', () => {
  it.each(XFF_CASES)('X-Forwarded-For: %s', (_name, peer, headers, ip, tls) => {
    expect(resolveClient(proxies, peer, new Headers(headers))).toEqual({ ip, tls });
  });
  it.each(FORWARDED_CASES)('Forwarded: %s', (_name, peer, headers, ip, tls) => {
    expect(resolveClient(forwardedProxies, peer, new Headers(headers))).toEqual({ ip, tls });
  });
  it('the default trusts loopback only: a private-network peer cannot choose its address', () => {
    const defaults = trustedProxies(DEFAULT_TRUSTED_PROXIES);
    expect(DEFAULT_TRUSTED_PROXIES).toEqual(['127.0.0.0/8', '::1/128']);
    for (const peer of ['10.0.0.2', '172.16.5.5', '192.168.1.9', 'fd00::5']) {
      const spoofed = new Headers({ 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' });
      expect(resolveClient(defaults, peer, spoofed)).toEqual({ ip: peer, tls: undefined });
    }
    const viaLoopback = new Headers({ 'x-forwarded-for': '198.51.100.7' });
    expect(resolveClient(defaults, '127.0.0.1', viaLoopback).ip).toBe('198.51.100.7');
    expect(resolveClient(defaults, '::1', viaLoopback).ip).toBe('198.51.100.7');
    expect(resolveClient(defaults, '::ffff:127.0.0.1', viaLoopback).ip).toBe('198.51.100.7');
  });
  it('a configured list replaces the defaults', () => {
    const narrow = trustedProxies(['203.0.113.0/24']);
    expect(resolveClient(narrow, '10.0.0.2', new Headers({ 'x-forwarded-for': '1.1.1.1' })).ip).toBe(
      '10.0.0.2',
    );
    expect(resolveClient(narrow, '203.0.113.4', new Headers({ 'x-forwarded-for': '1.1.1.1' })).ip).toBe(
      '1.1.1.1',
    );
  });
});
