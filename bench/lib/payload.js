'use strict';
// Signed Shopify-style order webhooks for the load driver.
//
// Every request must be unique (its delivery id is the dedupe key, its order id an entity key) and
// must carry the time it was sent (the sink computes end-to-end latency from it), so a fixed pool of
// pre-signed requests cannot be reused. Instead we serialise a pool of varied order bodies ONCE, with
// fixed-width numeric slots for the per-request fields, and per request only copy the template,
// overwrite the slots and compute one HMAC (a few microseconds for 3 KB). No JSON work happens on the
// hot path, and it all happens before the load driver starts its latency timer.
//
// Two body shapes (createRequestFactory's `shape`): 'shopify', the vendor webhook that the hub maps
// with its JSONata mapping and the baseline with plain JS; 'canonical', the canonical order `data`
// that mapping produces (schemas/order.v1.json), sent to the hub-canonical target, whose source
// connection has no mapping: the hub's own overhead without the mapping engine's cost.

const crypto = require('node:crypto');
const path = require('node:path');
const fs = require('node:fs');

const CANONICAL_FIXTURE = path.join(__dirname, '..', '..', 'test', 'fixtures', 'canonical', 'order.created.json');
const SAMPLE_PATH = path.join(__dirname, '..', '..', '..', 'shared', 'vendors', 'samples', 'shopify-orders-create.json');
const FALLBACK_SAMPLE = '/work/shared/vendors/samples/shopify-orders-create.json';

// Slot tokens and their digit widths. Fixed widths let us patch bytes in place without re-serialising.
// A token that is a whole JSON value becomes a number ("@@ID@@" → 6123…), unless it ends in _STR,
// which stays a string ("@@SENT_STR@@" → "1795…"); a token inside a longer string stays in it.
const SLOTS = { ID: 13, NUM: 7, SENT: 13 };
const TOKEN_RE = /"?@@(ID|NUM|SENT)(_STR)?@@"?/g;

const SKUS = [
  ['MUG-STN-SLT', 'Stoneware Mug', 'Slate', '24.00'],
  ['MUG-STN-SND', 'Stoneware Mug', 'Sand', '24.00'],
  ['MUG-ENM-WHT', 'Enamel Camp Mug', 'White', '18.50'],
  ['TUM-INS-BLK', 'Insulated Tumbler', 'Black', '32.00'],
  ['SET-ESP-4', 'Espresso Cup Set', '4 pack', '41.00'],
  ['PLT-DIN-OAT', 'Dinner Plate', 'Oat', '16.00'],
];
const PEOPLE = [
  ['Maria', 'Lopez', 'Brooklyn', 'New York', 'NY', '11201', 'US'],
  ['James', 'Okafor', 'Austin', 'Texas', 'TX', '78701', 'US'],
  ['Aiko', 'Tanaka', 'Seattle', 'Washington', 'WA', '98101', 'US'],
  ['Lena', 'Fischer', 'Toronto', 'Ontario', 'ON', 'M5V 2T6', 'CA'],
];

function loadSample() {
  const p = fs.existsSync(SAMPLE_PATH) ? SAMPLE_PATH : FALLBACK_SAMPLE;
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

const money = (amount, currency) => ({
  shop_money: { amount, currency_code: currency },
  presentment_money: { amount, currency_code: currency },
});

/**
 * One order in the Shopify webhook shape, trimmed from the vendor sample to ~3 KB (the sample is
 * 8.7 KB; DESIGN §8 measures with ~3 KB). Variant `v` picks customer, line count and SKUs so the
 * mapping and validation do real work on different data rather than one memoised shape.
 */
function buildOrder(sample, v) {
  const [first, last, city, province, provinceCode, zip, country] = PEOPLE[v % PEOPLE.length];
  const currency = 'USD';
  const lineCount = 1 + (v % 2);
  const baseLine = sample.line_items[0];
  const lines = [];
  let subtotal = 0;
  for (let i = 0; i < lineCount; i++) {
    const [sku, title, variantTitle, price] = SKUS[(v + i) % SKUS.length];
    const quantity = 1 + ((v + i) % 3);
    subtotal += Number(price) * quantity;
    const tax = (Number(price) * quantity * 0.06).toFixed(2);
    lines.push({
      id: baseLine.id + v * 10 + i,
      admin_graphql_api_id: `gid://shopify/LineItem/${baseLine.id + v * 10 + i}`,
      current_quantity: quantity,
      fulfillable_quantity: quantity,
      fulfillment_status: null,
      grams: 450,
      name: `${title} - ${variantTitle}`,
      price,
      product_id: baseLine.product_id + i,
      quantity,
      requires_shipping: true,
      sku,
      taxable: true,
      title,
      total_discount: '0.00',
      variant_id: baseLine.variant_id + i,
      variant_title: variantTitle,
      vendor: 'Acme Mugs',
      tax_lines: [{ channel_liable: false, price: tax, rate: 0.06, title: 'State Tax' }],
      discount_allocations: [],
    });
  }
  const shipping = '7.50';
  const tax = (subtotal * 0.06).toFixed(2);
  const total = (subtotal + Number(shipping) + Number(tax)).toFixed(2);
  const address = {
    first_name: first,
    last_name: last,
    name: `${first} ${last}`,
    company: null,
    address1: `${100 + v} Atlantic Ave`,
    address2: v % 2 ? 'Apt 3B' : null,
    city,
    province,
    province_code: provinceCode,
    zip,
    country: country === 'US' ? 'United States' : 'Canada',
    country_code: country,
    phone: '+17185550142',
  };
  const email = `${first}.${last}@example.com`.toLowerCase();
  return {
    id: '@@ID@@',
    admin_graphql_api_id: 'gid://shopify/Order/@@ID@@',
    app_id: sample.app_id,
    browser_ip: sample.browser_ip,
    buyer_accepts_marketing: false,
    cancel_reason: null,
    cancelled_at: null,
    closed_at: null,
    confirmation_number: sample.confirmation_number,
    confirmed: true,
    created_at: sample.created_at,
    currency,
    current_total_price: total,
    customer_locale: 'en-US',
    discount_codes: [],
    email,
    financial_status: 'paid',
    fulfillment_status: null,
    name: '#@@NUM@@',
    note: sample.note,
    // Bench instrumentation that survives mapping: canonical orders carry note_attributes as
    // attributes, so the sink reads the send time from attributes.bench_sent_at (DESIGN §3 has no
    // field for it, and an extra top-level field would be dropped or fail validation).
    note_attributes: [{ name: 'gift_wrap', value: 'no' }, { name: 'bench_sent_at', value: '@@SENT_STR@@' }],
    number: '@@NUM@@',
    order_number: '@@NUM@@',
    payment_gateway_names: ['shopify_payments'],
    phone: null,
    presentment_currency: currency,
    processed_at: sample.processed_at,
    source_name: 'web',
    subtotal_price: subtotal.toFixed(2),
    tags: '',
    tax_lines: [{ price: tax, rate: 0.06, title: 'State Tax', channel_liable: false }],
    taxes_included: false,
    test: false,
    token: sample.token,
    total_discounts: '0.00',
    total_line_items_price: subtotal.toFixed(2),
    total_price: total,
    total_price_set: money(total, currency),
    total_tax: tax,
    total_weight: 450 * lineCount,
    updated_at: sample.updated_at,
    customer: {
      id: sample.customer.id + v,
      email,
      created_at: sample.customer.created_at,
      updated_at: sample.customer.updated_at,
      first_name: first,
      last_name: last,
      state: 'enabled',
      verified_email: true,
      phone: null,
      currency,
    },
    billing_address: address,
    shipping_address: address,
    line_items: lines,
    shipping_lines: [{
      id: sample.shipping_lines[0].id,
      code: 'Standard',
      discounted_price: shipping,
      price: shipping,
      source: 'shopify',
      title: 'Standard',
      tax_lines: [],
      discount_allocations: [],
    }],
    // Bench instrumentation: when the request left the load driver (epoch ms).
    sentAt: '@@SENT@@',
  };
}

/**
 * The canonical order (schemas/order.v1.json) that the hub's Shopify mapping produces for
 * buildOrder(sample, v): the fixture test/fixtures/canonical/order.created.json's `data` gives the
 * field set and order, the Shopify order gives the values, so hub and hub-canonical carry the same
 * orders through validation and delivery. Per-request slots: externalIds.shopify (string),
 * orderNumber and attributes.bench_sent_at (the send time; canonical orders have no other place for
 * it, and the sink reads it from there for every target).
 */
function buildCanonicalOrder(sample, v, fixture = loadCanonicalFixture()) {
  const o = buildOrder(sample, v);
  const cur = o.currency;
  const money = (amount) => ({ amount, currency: cur });
  const address = (a) => ({
    ...fixture.billingAddress,
    name: a.name,
    company: a.company,
    line1: a.address1,
    line2: a.address2,
    city: a.city,
    region: a.province,
    regionCode: a.province_code,
    postalCode: a.zip,
    countryCode: a.country_code,
    phone: a.phone,
  });
  const lineTemplate = fixture.lines[0];
  return {
    ...fixture,
    externalIds: { shopify: '@@ID_STR@@', 'shopify.gid': 'gid://shopify/Order/@@ID@@' },
    channel: 'shopify',
    sourceName: o.source_name,
    orderNumber: '#@@NUM@@',
    status: 'open',
    financialStatus: o.financial_status,
    fulfillmentStatus: 'unfulfilled',
    fulfillmentType: 'ship',
    location: null,
    currency: cur,
    taxesIncluded: o.taxes_included,
    createdAt: new Date(o.created_at).toISOString().replace('.000Z', 'Z'),
    updatedAt: new Date(o.updated_at).toISOString().replace('.000Z', 'Z'),
    cancelledAt: null,
    cancelReason: null,
    customer: {
      externalIds: { shopify: String(o.customer.id) },
      email: o.customer.email,
      firstName: o.customer.first_name,
      lastName: o.customer.last_name,
      phone: o.customer.phone,
    },
    billingAddress: address(o.billing_address),
    shippingAddress: address(o.shipping_address),
    lines: o.line_items.map((l) => ({
      ...lineTemplate,
      lineId: String(l.id),
      sku: l.sku,
      title: l.title,
      variantTitle: l.variant_title,
      quantity: l.quantity,
      unitPrice: money(l.price),
      discount: money('0.00'),
      tax: money(l.tax_lines[0].price),
      total: money((Number(l.price) * l.quantity).toFixed(2)),
      requiresShipping: l.requires_shipping,
      attributes: {},
      externalIds: { shopify: String(l.id), 'shopify.variant': String(l.variant_id) },
    })),
    shippingLines: o.shipping_lines.map((s) => ({ title: s.title, code: s.code, price: money(s.discounted_price) })),
    totals: {
      subtotal: money(o.total_line_items_price),
      discount: money(o.total_discounts),
      shipping: money(o.shipping_lines[0].price),
      tax: money(o.total_tax),
      grandTotal: money(o.total_price),
    },
    tags: [],
    note: o.note,
    attributes: Object.fromEntries(o.note_attributes.map((a) => [a.name, a.value])),
  };
}

function loadCanonicalFixture() {
  return JSON.parse(fs.readFileSync(CANONICAL_FIXTURE, 'utf8')).data;
}

/** Serialises an order with tokens into a Buffer plus the byte offsets of each slot. */
function compileTemplate(order) {
  const json = JSON.stringify(order);
  const pieces = [];
  const slots = { ID: [], NUM: [], SENT: [] };
  let bytes = 0;
  let last = 0;
  for (const m of json.matchAll(TOKEN_RE)) {
    const before = json.slice(last, m.index);
    // A quoted token was a number field; an unquoted one sits inside a string ("#@@NUM@@").
    const quotedOpen = m[0].startsWith('"');
    const quotedClose = m[0].endsWith('"');
    const asNumber = quotedOpen && quotedClose && !m[2];
    const keepOpen = quotedOpen && !asNumber ? '"' : '';
    const keepClose = quotedClose && !asNumber ? '"' : '';
    const text = before + keepOpen;
    pieces.push(text);
    bytes += Buffer.byteLength(text);
    slots[m[1]].push(bytes);
    const filler = '0'.repeat(SLOTS[m[1]]);
    pieces.push(filler + keepClose);
    bytes += filler.length + keepClose.length;
    last = m.index + m[0].length;
  }
  pieces.push(json.slice(last));
  return { buf: Buffer.from(pieces.join('')), slots };
}

function writeDigits(buf, offsets, value, width) {
  const s = String(value).padStart(width, '0');
  if (s.length !== width) throw new Error(`value ${value} does not fit ${width} digits`);
  for (const off of offsets) buf.write(s, off, width, 'latin1');
}

/** Deterministic PRNG so the duplicate pattern is the same for every target and repeat. */
function xorshift(seed) {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

// Shared by every factory in the process, so the warm-up's orders never share an order number
// (or id) with the measured run's: the sink counts an order number seen twice as a double delivery.
let serial = 0;

const SHAPES = ['shopify', 'canonical'];

/**
 * Returns { next(), counts } where next() gives { body, headers, deliveryId, duplicate }.
 * duplicateRatio: share of requests that re-send an earlier request (same body, same delivery id),
 * the way a vendor retries a webhook it believes was lost.
 */
/** The bench shop's domain: the hub's Shopify source connection refuses webhooks from any other. */
const BENCH_SHOP = 'bench-shop.myshopify.com';

/**
 * signing: 'omnihub' (hex HMAC in x-omnihub-signature, read by the baseline and generic-http) or
 * 'shopify' (what Shopify sends: base64 HMAC, topic, shop domain and event id headers).
 */
function createRequestFactory({ secret, shape = 'shopify', signing = 'omnihub', duplicateRatio = 0, eventType = 'order.created', templates = 24, seed = 42 } = {}) {
  if (!secret) throw new Error('payload: secret is required');
  if (!SHAPES.includes(shape)) throw new Error(`payload: shape must be one of ${SHAPES.join(', ')}`);
  const sample = loadSample();
  const fixture = shape === 'canonical' ? loadCanonicalFixture() : null;
  const pool = [];
  for (let v = 0; v < templates; v++) {
    pool.push(compileTemplate(shape === 'canonical' ? buildCanonicalOrder(sample, v, fixture) : buildOrder(sample, v)));
  }
  // Order ids and delivery ids must not collide with earlier bench runs: the hub's database persists
  // across runs and would answer "duplicate" (or treat an order as already seen).
  const runTag = crypto.randomBytes(6).toString('hex');
  const idBase = 6_000_000_000_000 + (Date.now() % 1_000_000_000) * 1000;
  const rand = xorshift(seed);
  const ring = [];
  const RING = 512;
  const counts = { unique: 0, duplicates: 0 };

  function next() {
    if (duplicateRatio > 0 && ring.length && rand() < duplicateRatio) {
      counts.duplicates++;
      const prev = ring[Math.floor(rand() * ring.length)];
      return { ...prev, duplicate: true };
    }
    const seq = ++serial;
    const t = pool[seq % pool.length];
    const body = Buffer.from(t.buf); // copy: the previous request may still be in a socket buffer
    writeDigits(body, t.slots.ID, idBase + seq, SLOTS.ID);
    writeDigits(body, t.slots.NUM, 1_000_000 + (seq % 8_999_999), SLOTS.NUM);
    writeDigits(body, t.slots.SENT, Date.now(), SLOTS.SENT);
    const deliveryId = `${runTag}-${seq}`;
    const headers =
      signing === 'shopify'
        ? {
            'content-type': 'application/json',
            'x-shopify-hmac-sha256': crypto.createHmac('sha256', secret).update(body).digest('base64'),
            'x-shopify-topic': 'orders/create',
            'x-shopify-shop-domain': BENCH_SHOP,
            'x-shopify-event-id': deliveryId,
          }
        : {
            'content-type': 'application/json',
            'x-omnihub-signature': 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex'),
            'x-omnihub-delivery-id': deliveryId,
            'x-omnihub-event-type': eventType,
          };
    const req = { body, headers, deliveryId, duplicate: false };
    counts.unique++;
    if (duplicateRatio > 0) {
      if (ring.length < RING) ring.push(req);
      else ring[seq % RING] = req;
    }
    return req;
  }

  return { next, counts, averageSize: pool.reduce((n, t) => n + t.buf.length, 0) / pool.length };
}

module.exports = { createRequestFactory, buildOrder, buildCanonicalOrder, loadSample, SHAPES, BENCH_SHOP };
