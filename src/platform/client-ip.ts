import { BlockList, isIP } from 'node:net';
import parseForwarded from 'forwarded-parse';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

/** Which header trusted proxies write; only that one is read, so a client cannot pick the other. */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export type TrustedProxies = { list: BlockList; header: ForwardedHeader };

/** Loopback and private ranges: where a reverse proxy or load balancer usually sits. */
export const DEFAULT_TRUSTED_PROXIES = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  'fc00::/7',
];

/** `a.b.c.d/n` or `v6/n` (a bare address is a single host); undefined when malformed. */
export function parseCidr(
  text: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  const version = isIP(address);
  if (!version || rest.length) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function trustedProxies(cidrs: string[], header: ForwardedHeader = 'x-forwarded-for'): TrustedProxies {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`not a CIDR: ${cidr}`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return { list, header };
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`, how dual-stack sockets report IPv4 peers) becomes plain IPv4. */
export function normaliseIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/** A strict address from a header entry: `ip`, `ipv4:port` or `[ipv6]:port`; anything else is undefined. */
function addressOf(entry: string): string | undefined {
  const text = entry.trim().replace(/^"(.*)"$/, '$1');
  if (isIP(text)) return normaliseIp(text);
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed && isIP(bracketed[1]!) === 6) return normaliseIp(bracketed[1]!);
  const withPort = /^([\d.]+):\d{1,5}$/.exec(text);
  if (withPort && isIP(withPort[1]!) === 4) return withPort[1];
  return undefined;
}

const isTrusted = (proxies: TrustedProxies, address: string) =>
  proxies.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Whether the socket peer is one of the trusted proxies (whose `traceparent` is believed, too). */
export const isTrustedPeer = (proxies: TrustedProxies, peer: string): boolean =>
  isTrusted(proxies, normaliseIp(peer));

type Hop = { for?: string; proto?: string };

function hopsOf(proxies: TrustedProxies, headers: Headers): Hop[] | undefined {
  if (proxies.header === 'forwarded') {
    const value = headers.get('forwarded');
    if (!value) return [];
    try {
      return parseForwarded(value);
    } catch {
      return undefined;
    }
  }
  const value = headers.get('x-forwarded-for');
  return value ? value.split(',').map((entry) => ({ for: entry })) : [];
}

/**
 * The client behind the trusted proxies: walk the forwarded hops from the right (the nearest proxy's
 * entry last), skipping trusted addresses; the first untrusted one is the client. A malformed entry
 * stops the walk at the last good hop, since everything left of it may have been written by the client.
 */
export function resolveClient(
  proxies: TrustedProxies,
  peer: string,
  headers: Headers,
): { ip: string; tls: boolean | undefined } {
  const socketPeer = normaliseIp(peer);
  if (!isTrusted(proxies, socketPeer)) return { ip: socketPeer, tls: undefined };
  const hops = hopsOf(proxies, headers) ?? [];
  let client = socketPeer;
  for (let index = hops.length - 1; index >= 0; index--) {
    const address = addressOf(hops[index]!.for ?? '');
    if (!address) break;
    client = address;
    if (!isTrusted(proxies, address)) break;
  }
  return { ip: client, tls: forwardedTls(proxies, headers, hops) };
}

/** What the nearest trusted proxy says about the scheme it received. */
function forwardedTls(proxies: TrustedProxies, headers: Headers, hops: Hop[]): boolean | undefined {
  const proto =
    proxies.header === 'forwarded'
      ? hops.at(-1)?.proto
      : headers.get('x-forwarded-proto')?.split(',').at(-1)?.trim();
  return proto ? proto.toLowerCase() === 'https' : undefined;
}

/** Sets `clientIp` and `tls` (the request reached us over TLS, directly or per a trusted proxy). */
export const clientIp =
  (proxies: TrustedProxies): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const socket = c.env?.incoming?.socket as
      | (import('node:net').Socket & { encrypted?: boolean })
      | undefined;
    const peer = socket?.remoteAddress;
    if (!peer) {
      c.set('clientIp', 'unknown');
      c.set('tls', false);
      return next();
    }
    const { ip, tls } = resolveClient(proxies, peer, c.req.raw.headers);
    c.set('clientIp', ip);
    c.set('tls', socket?.encrypted === true || tls === true);
    await next();
  };
