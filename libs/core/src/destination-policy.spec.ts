import { loadConfig } from './config';
import { DestinationPolicy, parseAllowedPrivateDestinations } from './destination-policy';

const policy = (allowed = '') => new DestinationPolicy(parseAllowedPrivateDestinations(allowed));

describe('HUB_ALLOWED_PRIVATE_DESTINATIONS', () => {
  it('reads host names, addresses and CIDR ranges, separated by commas', () => {
    const allowed = parseAllowedPrivateDestinations(' erp.internal , 127.0.0.1, ::1 ,10.20.0.0/16,fd12:3456::/32,Localhost.');
    expect(allowed.hosts).toEqual(['erp.internal', 'localhost']);
    expect(allowed.ranges.map(([address, bits]) => `${address.toString()}/${bits}`)).toEqual(['127.0.0.1/32', '::1/128', '10.20.0.0/16', 'fd12:3456::/32']);
    expect(parseAllowedPrivateDestinations(undefined)).toEqual({ hosts: [], ranges: [] });
  });

  it.each([
    ['10.0.0.0/33', 'is not a valid CIDR range: the prefix length must be a number from 0 to 32'],
    ['fc00::/129', 'is not a valid CIDR range: the prefix length must be a number from 0 to 128'],
    ['10.0.0.0/x', 'is not a valid CIDR range'],
    ['10.0.0.0/8/8', 'is not a valid CIDR range'],
    ['10.0.0/8', 'is neither a host name, an IP address nor a CIDR range'],
    ['300.1.1.1', 'is neither a host name, an IP address nor a CIDR range'],
    ['10', 'is neither a host name, an IP address nor a CIDR range'],
    ['erp_internal', 'is neither a host name, an IP address nor a CIDR range'],
    ['169.254.169.254', 'is a cloud metadata address, which the hub never calls'],
    ['169.254.0.0/16', 'is a link-local address, which the hub never calls'],
    ['fe80::/64', 'is a link-local address, which the hub never calls'],
    ['metadata.google.internal', 'is a cloud metadata service, which the hub never calls'],
  ])('refuses "%s" at start, naming the setting and the entry', (entry, why) => {
    expect(() => loadConfig({ HUB_ALLOWED_PRIVATE_DESTINATIONS: `127.0.0.1,${entry}` })).toThrow(`HUB_ALLOWED_PRIVATE_DESTINATIONS: "${entry}" ${why}`);
  });

  it('allows nothing private by default', () => {
    expect(loadConfig({}).allowedPrivateDestinations).toEqual({ hosts: [], ranges: [] });
  });
});

describe('DestinationPolicy', () => {
  it.each([
    ['203.0.113.10'],
    ['2001:db8::1'],
    ['8.8.8.8'],
    ['172.32.0.1'], // just outside 172.16.0.0/12
    ['100.128.0.1'], // just outside 100.64.0.0/10
  ])('calls the public address %s', (address) => {
    expect(policy().refusalOfHost(address)).toBeUndefined();
  });

  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.8.9.10', 'a loopback address'],
    ['[::1]', 'a loopback address'],
    ['10.0.0.5', 'a private (RFC 1918) address'],
    ['172.16.4.4', 'a private (RFC 1918) address'],
    ['192.168.1.1', 'a private (RFC 1918) address'],
    ['100.64.0.1', 'a shared (carrier-grade NAT) address'],
    ['[fd12::1]', 'a unique local address'],
    ['[::ffff:10.0.0.5]', 'a private (RFC 1918) address'],
    ['[::ffff:7f00:1]', 'a loopback address'],
  ])('refuses the private address %s unless it is allowed', (host, kind) => {
    expect(policy().refusalOfHost(host)).toBe(`${host.replace(/[[\]]/g, '')} is ${kind}; the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them`);
  });

  it.each([
    ['169.254.169.254', 'a cloud metadata address'],
    ['[fd00:ec2::254]', 'a cloud metadata address'],
    ['100.100.100.200', 'a cloud metadata address'],
    ['169.254.10.10', 'a link-local address'],
    ['[fe80::1]', 'a link-local address'],
    ['0.0.0.0', 'an unspecified address'],
    ['0.1.2.3', 'an unspecified address'],
    ['[::]', 'an unspecified address'],
    ['224.0.0.1', 'a multicast address'],
    ['[ff02::1]', 'a multicast address'],
    ['255.255.255.255', 'a reserved (broadcast) address'],
    ['[::ffff:169.254.169.254]', 'a cloud metadata address'],
    ['[::ffff:a9fe:a9fe]', 'a cloud metadata address'],
    ['[64:ff9b::a9fe:a9fe]', 'a cloud metadata address'],
  ])('never calls %s, whatever is allowed', (host, kind) => {
    const permissive = policy('10.0.0.0/8,100.64.0.0/10,fc00::/7,127.0.0.0/8,::/0,0.0.0.0/0');
    expect(permissive.refusalOfHost(host)).toBe(`${host.replace(/[[\]]/g, '')} is ${kind}; the hub never calls those, whatever HUB_ALLOWED_PRIVATE_DESTINATIONS says`);
  });

  it('never calls cloud metadata services by name', () => {
    expect(policy('metadata.goog.example').refusalOfHost('Metadata.Google.Internal.')).toBe('metadata.google.internal is a cloud metadata service; the hub never calls those, whatever HUB_ALLOWED_PRIVATE_DESTINATIONS says');
    expect(policy().refusalOfHost('metadata.goog')).toMatch(/never calls/);
  });

  it('calls a private address inside an allowed range, and only there', () => {
    const allowed = policy('10.20.0.0/16,fd12:3456::/32');
    expect(allowed.refusalOfHost('10.20.1.2')).toBeUndefined();
    expect(allowed.refusalOfHost('[::ffff:10.20.1.2]')).toBeUndefined();
    expect(allowed.refusalOfHost('[fd12:3456::9]')).toBeUndefined();
    expect(allowed.refusalOfHost('10.21.1.2')).toMatch(/private \(RFC 1918\)/);
    expect(allowed.refusalOfHost('[fd12:3457::9]')).toMatch(/unique local/);
  });

  it('judges loopback names as the local host, and leaves other names to their addresses', () => {
    expect(policy().refusalOfHost('localhost')).toBe('localhost (the local host) is a loopback address; the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them');
    expect(policy().refusalOfHost('api.localhost')).toMatch(/loopback/);
    expect(policy('127.0.0.1').refusalOfHost('localhost')).toBeUndefined();
    expect(policy('localhost').refusalOfHost('localhost')).toBeUndefined();
    expect(policy().refusalOfHost('erp.example.com')).toBeUndefined();
  });

  it('judges what a name resolves to, naming both; an allowed host may reach private addresses but never metadata', () => {
    expect(policy().refusalOfAddress('10.0.0.5', 'erp.example.com')).toBe('erp.example.com resolves to 10.0.0.5, which is a private (RFC 1918) address; the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them');
    expect(policy().refusalOfAddress('::ffff:127.0.0.1', 'erp.example.com')).toMatch(/resolves to ::ffff:127.0.0.1, which is a loopback address/);
    expect(policy().refusalOfAddress('203.0.113.10', 'erp.example.com')).toBeUndefined();
    expect(policy('erp.internal').refusalOfAddress('10.0.0.5', 'ERP.internal')).toBeUndefined();
    expect(policy('erp.internal').refusalOfAddress('169.254.169.254', 'erp.internal')).toBe('erp.internal resolves to 169.254.169.254, which is a cloud metadata address; the hub never calls those, whatever HUB_ALLOWED_PRIVATE_DESTINATIONS says');
    expect(policy('erp.internal').refusalOfAddress('10.0.0.5', 'other.internal')).toMatch(/private \(RFC 1918\)/);
  });
});
