import * as ipaddr from 'ipaddr.js';

/** The setting that lets the hub call private addresses; named in every refusal so the fix is obvious. */
export const ALLOWED_PRIVATE_DESTINATIONS_SETTING = 'HUB_ALLOWED_PRIVATE_DESTINATIONS';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

const ranges = (...cidrs: string[]): Range[] => cidrs.map((cidr) => ipaddr.parseCIDR(cidr));

/**
 * Never called, whatever the allow-list says: an answer from these is the cloud's credentials or
 * another host's link-local service, not a vendor. Checked first, so metadata inside an allowed
 * range (100.100.100.200 in 100.64.0.0/10, fd00:ec2::254 in fc00::/7) stays refused.
 */
const NEVER_CALLED: Record<string, Range[]> = {
  'a cloud metadata address': ranges('169.254.169.254/32', 'fd00:ec2::254/128', '100.100.100.200/32'),
  'a link-local address': ranges('169.254.0.0/16', 'fe80::/10'),
  'an unspecified address': ranges('0.0.0.0/8', '::/128'),
  'a multicast address': ranges('224.0.0.0/4', 'ff00::/8'),
  'a reserved (broadcast) address': ranges('240.0.0.0/4'),
};

/** Called only where the operator allows it: the hub's own host and the networks behind it. */
const PRIVATE: Record<string, Range[]> = {
  'a loopback address': ranges('127.0.0.0/8', '::1/128'),
  'a private (RFC 1918) address': ranges('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'),
  'a shared (carrier-grade NAT) address': ranges('100.64.0.0/10'),
  'a unique local address': ranges('fc00::/7'),
};

/** Names of cloud metadata services: refused by name too, so the error says so before any lookup. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog']);

/** RFC 6761: these names are the local host, whatever a resolver says. */
const isLoopbackName = (host: string): boolean => host === 'localhost' || host.endsWith('.localhost');
const LOOPBACK = ipaddr.parse('127.0.0.1');

/** NAT64 (RFC 6052): 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through the gateway. */
const NAT64: Range = ipaddr.parseCIDR('64:ff9b::/96');

/** What HUB_ALLOWED_PRIVATE_DESTINATIONS lists: host names, and addresses or CIDR ranges. */
export interface AllowedPrivateDestinations {
  hosts: string[];
  ranges: Range[];
}

/** Host names compare without case and without the trailing dot of a fully qualified name. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** The IPv4 address an IPv6 one stands for (IPv4-mapped or NAT64), so it is judged as that address. */
function effectiveAddress(address: Address): Address {
  if (address.kind() !== 'ipv6') return address;
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (v6.match(NAT64)) return ipaddr.fromByteArray(v6.toByteArray().slice(12));
  return v6;
}

const rangeNamed = (address: Address, list: Record<string, Range[]>): string | undefined => {
  const name = ipaddr.subnetMatch(address, list, '');
  return name || undefined;
};

const HOST_NAME = /^(?=.*[a-z-])[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * Parses the allow-list: comma-separated host names (`erp.internal`), addresses (`127.0.0.1`,
 * `::1`) and CIDR ranges (`10.20.0.0/16`). Throws naming the setting and the entry, so a typo stops
 * the hub at start rather than silently refusing (or allowing) the wrong network.
 */
export function parseAllowedPrivateDestinations(raw: string | undefined): AllowedPrivateDestinations {
  const allowed: AllowedPrivateDestinations = { hosts: [], ranges: [] };
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const problem = (why: string) => new Error(`${ALLOWED_PRIVATE_DESTINATIONS_SETTING}: "${entry}" ${why}`);
    const [address, bits, ...rest] = entry.split('/');
    const isIPv4 = ipaddr.IPv4.isValidFourPartDecimal(address);
    if (isIPv4 || ipaddr.IPv6.isValid(address)) {
      const maxBits = isIPv4 ? 32 : 128;
      if (rest.length > 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)) || Number(bits ?? maxBits) > maxBits) {
        throw problem(`is not a valid CIDR range: the prefix length must be a number from 0 to ${maxBits}`);
      }
      const range: Range = [ipaddr.parse(address), Number(bits ?? maxBits)];
      const neverCalled = Object.entries(NEVER_CALLED).find(([, list]) => list.some(([net, netBits]) => range[0].kind() === net.kind() && range[1] >= netBits && range[0].match(net, netBits)));
      if (neverCalled) throw problem(`is ${neverCalled[0]}, which the hub never calls`);
      allowed.ranges.push(range);
    } else if (bits === undefined && HOST_NAME.test(normalizeHost(entry))) {
      const host = normalizeHost(entry);
      if (METADATA_HOSTS.has(host)) throw problem('is a cloud metadata service, which the hub never calls');
      allowed.hosts.push(host);
    } else {
      throw problem('is neither a host name, an IP address nor a CIDR range (e.g. 10.0.0.0/8)');
    }
  }
  return allowed;
}

/**
 * Which addresses outbound requests (deliveries, fetch-backs, token endpoints) may reach. A
 * connection's URL is set by an integrator and the answer is recorded where they can read it, so
 * without this the hub would fetch its own network, or the cloud's credentials, for them.
 */
export class DestinationPolicy {
  private readonly hosts: ReadonlySet<string>;

  constructor(private readonly allowed: AllowedPrivateDestinations) {
    this.hosts = new Set(allowed.hosts);
  }

  /**
   * Why a URL with this host must not be called, judged from the host alone: an IP literal, a
   * loopback name or a metadata name. Other names are judged by what they resolve to, each time the
   * hub connects (`refusalOfAddress`): a name's answer can change after it was checked.
   */
  refusalOfHost(rawHost: string): string | undefined {
    const host = normalizeHost(rawHost);
    if (METADATA_HOSTS.has(host)) return `${host} is a cloud metadata service; the hub never calls those, whatever ${ALLOWED_PRIVATE_DESTINATIONS_SETTING} says`;
    if (ipaddr.isValid(host)) return this.refusalOfAddress(host, host);
    if (isLoopbackName(host)) return this.refusalOf(LOOPBACK, host, `${host} (the local host)`);
    return undefined;
  }

  /** Why the hub must not connect to `address` (what `host` resolved to, or the host itself). */
  refusalOfAddress(rawAddress: string, rawHost: string): string | undefined {
    const host = normalizeHost(rawHost);
    let parsed: Address;
    try {
      parsed = ipaddr.parse(normalizeHost(rawAddress));
    } catch {
      return `${host} resolved to ${rawAddress}, which is not an IP address`;
    }
    const subject = host === normalizeHost(rawAddress) ? host : `${host} resolves to ${rawAddress}, which`;
    return this.refusalOf(effectiveAddress(parsed), host, subject);
  }

  /** `subject` is what the message says is refused: the address, or the name and what it resolved to. */
  private refusalOf(address: Address, host: string, subject: string): string | undefined {
    const neverCalled = rangeNamed(address, NEVER_CALLED);
    if (neverCalled) return `${subject} is ${neverCalled}; the hub never calls those, whatever ${ALLOWED_PRIVATE_DESTINATIONS_SETTING} says`;
    const privateRange = rangeNamed(address, PRIVATE);
    if (!privateRange || this.hosts.has(host)) return undefined;
    if (this.allowed.ranges.some((range) => range[0].kind() === address.kind() && address.match(range))) return undefined;
    return `${subject} is ${privateRange}; the hub calls private addresses only where ${ALLOWED_PRIVATE_DESTINATIONS_SETTING} allows them`;
  }
}
