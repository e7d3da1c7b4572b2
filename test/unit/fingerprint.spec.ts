import { errorFingerprint, errorPattern } from '@omnihub/core';

describe('error fingerprints', () => {
  it('masks what varies between occurrences of one failure', () => {
    expect(errorPattern('destination answered 422: {"error":"SKU not found: MUG-12"}')).toBe('destination answered <n>: {"error":"SKU not found: <n>"}');
    expect(errorPattern("order 'A-100' for maria@example.com at 2026-06-01T10:00:00Z")).toBe('order <value> for <email> at <time>');
    expect(errorPattern('delivery 5fd7fbcc-4250-4eba-9c8c-1341c4d5d332 timed out after 10000 ms')).toBe('delivery <id> timed out after <n> ms');
  });

  it('gives 50 failures that differ only by SKU one fingerprint, and different failures different ones', () => {
    const prints = new Set(Array.from({ length: 50 }, (_, i) => errorFingerprint('DESTINATION_REJECTED', `422: SKU not found: SKU-${i}`)));
    expect(prints.size).toBe(1);
    expect(errorFingerprint('DESTINATION_REJECTED', '422: SKU not found: SKU-1')).not.toBe(errorFingerprint('DESTINATION_REJECTED', '422: price mismatch on SKU-1'));
    expect(errorFingerprint('DESTINATION_REJECTED', '422: SKU not found: SKU-1')).not.toBe(errorFingerprint('SCHEMA_VIOLATION', '422: SKU not found: SKU-1'));
  });

  it('keeps the words of a quoted sentence, so two different messages stay apart', () => {
    expect(errorPattern('{"error":"Item is discontinued"}')).toBe('{"error":"Item is discontinued"}');
    expect(errorPattern('{"code":"E42"}')).toBe('{"code":<value>}');
  });
});
