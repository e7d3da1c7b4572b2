import { HttpRequest, HttpResponse } from './contracts';
import { oauth1Authorization, oauth1BaseString, oauth1Client, oauth1Signature, parseOAuth1Authorization, percentEncode } from './oauth1';

/*
 * Known answers only: every expected value below comes from a published vector or was computed
 * outside this code (openssl), so a wrong encoding, ordering or key cannot agree with itself.
 */

// RFC 5849 §3.4.1.1: the request, its protocol parameters, and the base string the RFC prints.
const RFC_URL = 'http://EXAMPLE.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b';
const RFC_PROTOCOL: Array<[string, string]> = [
  ['oauth_consumer_key', '9djdj82h48djs9d2'],
  ['oauth_token', 'kkk9d7dh3k39sjv7'],
  ['oauth_signature_method', 'HMAC-SHA1'],
  ['oauth_timestamp', '137131201'],
  ['oauth_nonce', '7d8f3e4a'],
];
// The form-encoded body `c2&a3=2+q`.
const RFC_BODY: Array<[string, string]> = [
  ['c2', ''],
  ['a3', '2 q'],
];
const RFC_BASE_STRING =
  'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7';

// Twitter's published "Creating a signature" example (HMAC-SHA1, form body, query parameter).
const TWITTER = {
  credentials: {
    consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
    consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
    token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
    tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
  },
  nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
  timestamp: '1318622958',
  url: 'https://api.twitter.com/1/statuses/update.json?include_entities=true',
  body: 'status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21',
  signature: 'tnnArxj06cWHq44gCs1OSKk/jLY=',
};

// A NetSuite-shaped request: PUT on an eid: path with a query, secrets that need encoding in the key.
const NETSUITE = {
  credentials: { consumerKey: 'ck-test', consumerSecret: 'cs/secret+1', token: 'tk-test', tokenSecret: 'ts=secret&2' },
  url: 'https://123456-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/eid:shopify-1042?fields=id,tranId',
  // Written out by hand from RFC 5849 §3.4.1 (the comma is encoded twice, the colon of eid: once).
  baseString:
    'PUT&https%3A%2F%2F123456-sb1.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1%2FsalesOrder%2Feid%3Ashopify-1042&fields%3Did%252CtranId%26oauth_consumer_key%3Dck-test%26oauth_nonce%3Dn0nce42%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1764547200%26oauth_token%3Dtk-test%26oauth_version%3D1.0',
  // printf '%s' "$BASE_STRING" | openssl dgst -sha256 -hmac 'cs%2Fsecret%2B1&ts%3Dsecret%262' -binary | base64
  signature: 'bFq0C6Np3sxPaM3rphGLkN0moimxUleDunqrv4RPgqk=',
};

describe('OAuth 1.0a percent-encoding (RFC 3986 unreserved set)', () => {
  it.each([
    ['Ladies + Gentlemen', 'Ladies%20%2B%20Gentlemen'],
    ["!*'()", '%21%2A%27%28%29'],
    ['-._~AZaz09', '-._~AZaz09'],
    ['é', '%C3%A9'],
    ['a=b&c', 'a%3Db%26c'],
  ])('%s → %s', (raw, encoded) => {
    expect(percentEncode(raw)).toBe(encoded);
  });
});

describe('OAuth 1.0a signature base string', () => {
  it('reproduces RFC 5849 §3.4.1.1 (query decoded and re-encoded, body parameters, host and default port normalised)', () => {
    expect(oauth1BaseString('post', RFC_URL, [...RFC_PROTOCOL, ...RFC_BODY])).toBe(RFC_BASE_STRING);
  });

  it('leaves realm and oauth_signature out of the base string', () => {
    expect(oauth1BaseString('POST', RFC_URL, [...RFC_PROTOCOL, ...RFC_BODY, ['realm', 'Example'], ['oauth_signature', 'x']])).toBe(RFC_BASE_STRING);
  });

  it('keeps a non-default port and the path as sent', () => {
    expect(oauth1BaseString('GET', 'https://Example.com:8443/a%20b/c', [])).toBe('GET&https%3A%2F%2Fexample.com%3A8443%2Fa%2520b%2Fc&');
  });
});

describe('OAuth 1.0a signatures (known answers)', () => {
  it("matches Twitter's published HMAC-SHA1 example, form body and query included", () => {
    const header = oauth1Authorization(
      { method: 'POST', url: TWITTER.url, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: TWITTER.body },
      TWITTER.credentials,
      { signatureMethod: 'HMAC-SHA1', nonce: () => TWITTER.nonce, timestamp: () => TWITTER.timestamp },
    );
    expect(parseOAuth1Authorization(header)?.oauth_signature).toBe(TWITTER.signature);
    expect(header).toContain('oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D"');
  });

  it('signs a NetSuite request with HMAC-SHA256 as openssl computes it; realm is sent, not signed', () => {
    const request = { method: 'PUT' as const, url: NETSUITE.url, headers: { 'content-type': 'application/json' }, body: '{"externalId":"shopify-1042"}' };
    const options = { realm: '123456_SB1', nonce: () => 'n0nce42', timestamp: () => '1764547200' };
    const header = oauth1Authorization(request, NETSUITE.credentials, options);
    expect(header).toBe(
      `OAuth realm="123456_SB1", oauth_consumer_key="ck-test", oauth_token="tk-test", oauth_signature_method="HMAC-SHA256", oauth_timestamp="1764547200", oauth_nonce="n0nce42", oauth_version="1.0", oauth_signature="${percentEncode(NETSUITE.signature)}"`,
    );
    const parsed = parseOAuth1Authorization(header)!;
    const protocol = Object.entries(parsed).filter(([name]) => name !== 'realm' && name !== 'oauth_signature');
    expect(oauth1BaseString('PUT', NETSUITE.url, protocol)).toBe(NETSUITE.baseString);
    expect(oauth1Signature(NETSUITE.baseString, NETSUITE.credentials.consumerSecret, NETSUITE.credentials.tokenSecret)).toBe(NETSUITE.signature);
    // Another realm changes the header, never the signature; a JSON body is not signed.
    const otherRealm = oauth1Authorization({ ...request, body: '{}' }, NETSUITE.credentials, { ...options, realm: '999' });
    expect(parseOAuth1Authorization(otherRealm)).toEqual({ ...parsed, realm: '999' });
  });
});

describe('oauth1Client', () => {
  it('signs each request anew (fresh nonce) and passes the rest through', async () => {
    const sent: HttpRequest[] = [];
    const http = { request: async (r: HttpRequest): Promise<HttpResponse> => (sent.push(r), { status: 204, headers: {}, body: '' }) };
    let n = 0;
    const client = oauth1Client(http, NETSUITE.credentials, { realm: '123456_SB1', nonce: () => `nonce${++n}`, timestamp: () => '1764547200' });
    await client.request({ method: 'GET', url: NETSUITE.url, headers: { accept: 'application/json' }, timeoutMs: 1000 });
    await client.request({ method: 'GET', url: NETSUITE.url, headers: { accept: 'application/json' }, timeoutMs: 1000 });
    expect(sent.map((r) => parseOAuth1Authorization(r.headers?.authorization)?.oauth_nonce)).toEqual(['nonce1', 'nonce2']);
    expect(sent[0].headers?.accept).toBe('application/json');
    expect(sent[0].headers?.authorization).not.toBe(sent[1].headers?.authorization);
  });

  it('parses only well-formed OAuth headers', () => {
    expect(parseOAuth1Authorization('Bearer abc')).toBeUndefined();
    expect(parseOAuth1Authorization('OAuth realm=unquoted')).toBeUndefined();
    expect(parseOAuth1Authorization('OAuth oauth_nonce="%E0%A4%A"')).toBeUndefined();
    expect(parseOAuth1Authorization('OAuth realm="1", oauth_token="a%2Fb"')).toEqual({ realm: '1', oauth_token: 'a/b' });
  });
});
