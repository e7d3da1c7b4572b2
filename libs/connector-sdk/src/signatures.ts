import { createHmac, timingSafeEqual } from 'node:crypto';

/** Compares two strings in constant time; different lengths are simply unequal (Node would throw). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function hmacSha256(secret: string | Buffer, message: Buffer | string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(message).digest(encoding);
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
