import { jsonDepth, parseVendorJson } from './json';

describe('parseVendorJson', () => {
  it('keeps integers beyond 2^53 digit-exact, as strings', () => {
    expect(parseVendorJson('{"id": 5745678901234567891, "n": 12}')).toEqual({ id: '5745678901234567891', n: 12 });
  });

  it('keeps 16-digit safe integers as numbers and unsafe ones as strings', () => {
    expect(parseVendorJson('[9007199254740991, 9007199254740993]')).toEqual([9007199254740991, '9007199254740993']);
  });

  it('parses ordinary bodies exactly as JSON.parse does', () => {
    const text = '{"price":"19.99","qty":3,"ratio":0.125,"neg":-4,"exp":1e3,"s":"1234567890123456789 in a string"}';
    expect(parseVendorJson(text)).toEqual(JSON.parse(text));
  });

  it('throws a SyntaxError on malformed JSON, by either path', () => {
    expect(() => parseVendorJson('{"a": ')).toThrow(SyntaxError);
    expect(() => parseVendorJson('{"id": 12345678901234567890, ')).toThrow();
  });
});

describe('jsonDepth', () => {
  it.each([
    ['{}', 1],
    ['[[[]]]', 3],
    ['{"a": "[[[[ not nesting ]]]]", "b": [1, {"c": 2}]}', 3],
    ['"an escaped quote \\" [[ stays in the string"', 0],
  ])('%s has depth %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });
});
