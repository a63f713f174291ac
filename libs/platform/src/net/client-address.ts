import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The client's address: what a trusted proxy says (request.ip, from X-Forwarded-For under TRUST_PROXY) when it is an
 * IP address, else the socket's. A proxy that passes a client's garbage through must not let that client choose any
 * string as its rate-limit key.
 */
export function clientAddress(request: FastifyRequest): string {
  return isIP(request.ip) !== 0 ? request.ip : (request.socket.remoteAddress ?? request.ip);
}

/**
 * The client a per-address bucket belongs to. `::ffff:203.0.113.7` and `203.0.113.7` are one client (dual-stack sockets
 * report IPv4 peers in mapped form). An IPv6 client is its network of `ipv6Prefix` bits (RATE_LIMIT_IPV6_PREFIX), written
 * `2001:db8:0:100::/56`: a subscriber is assigned a whole prefix, commonly a /56 for a home and a /48 for a site
 * (RFC 6177, https://www.rfc-editor.org/rfc/rfc6177): keyed by single addresses, or by /64s, one subscriber would
 * hold 2^72, or 256, buckets. An address it cannot read is keyed as it is rather than lumped with others.
 */
export function normalizeAddress(address: string, ipv6Prefix: number): string {
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (groups === undefined) return address;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  const kept = Math.ceil(ipv6Prefix / 16);
  const network = groups.slice(0, kept).map((group, index) => {
    const bits = Math.min(16, ipv6Prefix - index * 16);
    return (group & (0xffff << (16 - bits)) & 0xffff).toString(16);
  });
  return `${network.join(':')}${kept < 8 ? '::' : ''}/${ipv6Prefix}`;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, embedded IPv4 read), or undefined if malformed. */
function ipv6Groups(address: string): number[] | undefined {
  const parts = address.replace(/%.*$/, '').split('::');
  if (parts.length > 2) return undefined;
  const halves = parts.map((part) => (part === '' ? [] : part.split(':')));
  const last = halves[halves.length - 1];
  // An embedded IPv4 address (…:1.2.3.4) fills the last two groups.
  if (last.length > 0 && last[last.length - 1].includes('.')) {
    const octets = last[last.length - 1].split('.');
    if (octets.length !== 4 || !octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)) return undefined;
    const [a, b, c, d] = octets.map(Number);
    last.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const [head, tail] = halves;
  const missing = 8 - head.length - (tail?.length ?? 0);
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = tail === undefined ? head : [...head, ...Array<string>(missing).fill('0'), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  return groups.map((group) => parseInt(group, 16));
}
