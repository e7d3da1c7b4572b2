'use strict';
// The baseline's transform step: a hand-written Shopify order → canonical order mapping (DESIGN §3
// field names) and one ajv schema compiled once at load. It is deliberately plain code, the fastest
// honest way to do what the hub does with a JSONata mapping file and its versioned schema.

const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const cents = (s) => (s === null || s === undefined || s === '' ? 0 : Math.round(Number(s) * 100));
const amount = (c) => (c / 100).toFixed(2);
// Shopify sends local offsets ("2025-03-14T10:21:07-04:00"); canonical timestamps are UTC.
const utc = (s) => (s ? new Date(s).toISOString() : null);

const FINANCIAL = new Set(['pending', 'authorized', 'paid', 'partially_paid', 'partially_refunded', 'refunded', 'voided']);

function address(a) {
  if (!a) return null;
  return {
    name: a.name ?? [a.first_name, a.last_name].filter(Boolean).join(' '),
    company: a.company ?? null,
    line1: a.address1 ?? null,
    line2: a.address2 ?? null,
    city: a.city ?? null,
    region: a.province_code ?? a.province ?? null,
    postalCode: a.zip ?? null,
    countryCode: a.country_code ?? null,
    phone: a.phone ?? null,
  };
}

function mapShopifyOrder(o) {
  const currency = o.currency;
  const money = (c) => ({ amount: amount(c), currency });
  const lines = (o.line_items || []).map((li) => {
    const gross = cents(li.price) * li.quantity;
    const discount = (li.discount_allocations || []).reduce((n, d) => n + cents(d.amount), 0) + cents(li.total_discount);
    const tax = (li.tax_lines || []).reduce((n, t) => n + cents(t.price), 0);
    return {
      lineId: String(li.id),
      sku: li.sku,
      title: li.title,
      quantity: li.quantity,
      unitPrice: money(cents(li.price)),
      discount: money(discount),
      tax: money(tax),
      total: money(gross - discount + (o.taxes_included ? 0 : tax)),
      externalIds: { shopify: String(li.id), shopifyVariant: String(li.variant_id) },
    };
  });
  const shippingLines = (o.shipping_lines || []).map((s) => ({
    title: s.title,
    code: s.code ?? null,
    price: money(cents(s.discounted_price ?? s.price)),
  }));
  const shipping = shippingLines.reduce((n, s) => n + cents(s.price.amount), 0);
  const c = o.customer;
  return {
    externalIds: { shopify: String(o.id) },
    channel: 'shopify',
    orderNumber: o.name ?? String(o.order_number),
    status: o.cancelled_at ? 'cancelled' : o.closed_at ? 'closed' : 'open',
    financialStatus: FINANCIAL.has(o.financial_status) ? o.financial_status : 'pending',
    fulfillmentStatus: o.fulfillment_status === 'fulfilled' || o.fulfillment_status === 'partial'
      ? o.fulfillment_status : 'unfulfilled',
    currency,
    createdAt: utc(o.created_at),
    updatedAt: utc(o.updated_at ?? o.created_at),
    customer: c ? {
      externalIds: { shopify: String(c.id) },
      email: c.email ?? o.email ?? null,
      firstName: c.first_name ?? null,
      lastName: c.last_name ?? null,
      phone: c.phone ?? null,
    } : null,
    billingAddress: address(o.billing_address),
    shippingAddress: address(o.shipping_address),
    lines,
    shippingLines,
    totals: {
      subtotal: money(cents(o.subtotal_price)),
      discount: money(cents(o.total_discounts)),
      shipping: money(shipping),
      tax: money(cents(o.total_tax)),
      grandTotal: money(cents(o.total_price)),
    },
    taxesIncluded: Boolean(o.taxes_included),
    fulfillmentType: (o.shipping_lines || []).length ? 'ship' : 'pickup',
    cancelReason: o.cancel_reason ?? null,
    attributes: attributes(o.note_attributes),
  };
}

/** Shopify name/value pairs → { name: "value" } (as the hub's mapping does). */
function attributes(pairs) {
  const out = {};
  for (const p of pairs || []) if (p && typeof p.name === 'string' && p.value != null) out[p.name] = String(p.value);
  return out;
}

const nullable = (schema) => ({ anyOf: [schema, { type: 'null' }] });
const str = { type: 'string' };
const money = {
  type: 'object',
  required: ['amount', 'currency'],
  additionalProperties: false,
  properties: { amount: { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
};
const externalIds = { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } };
const addressSchema = nullable({
  type: 'object',
  additionalProperties: false,
  required: ['line1', 'city', 'countryCode'],
  properties: {
    name: nullable(str), company: nullable(str), line1: nullable(str), line2: nullable(str), city: nullable(str),
    region: nullable(str), postalCode: nullable(str), countryCode: nullable({ type: 'string', pattern: '^[A-Z]{2}$' }),
    phone: nullable(str),
  },
});

const orderSchema = {
  $id: 'bench-baseline/order.v1',
  type: 'object',
  additionalProperties: false,
  required: ['externalIds', 'channel', 'orderNumber', 'status', 'financialStatus', 'fulfillmentStatus', 'currency',
    'createdAt', 'updatedAt', 'lines', 'totals'],
  properties: {
    externalIds,
    channel: { type: 'string', minLength: 1 },
    orderNumber: { type: 'string', minLength: 1 },
    status: { enum: ['open', 'cancelled', 'closed'] },
    financialStatus: { enum: [...FINANCIAL] },
    fulfillmentStatus: { enum: ['unfulfilled', 'partial', 'fulfilled'] },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    customer: nullable({
      type: 'object',
      additionalProperties: false,
      required: ['externalIds'],
      properties: {
        externalIds, email: nullable({ type: 'string', format: 'email' }), firstName: nullable(str),
        lastName: nullable(str), phone: nullable(str),
      },
    }),
    billingAddress: addressSchema,
    shippingAddress: addressSchema,
    lines: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['lineId', 'sku', 'quantity', 'unitPrice', 'total', 'externalIds'],
        properties: {
          lineId: str, sku: nullable(str), title: nullable(str), quantity: { type: 'integer', minimum: 0 },
          unitPrice: money, discount: money, tax: money, total: money, externalIds,
        },
      },
    },
    shippingLines: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['title', 'price'],
        properties: { title: str, code: nullable(str), price: money },
      },
    },
    totals: {
      type: 'object',
      additionalProperties: false,
      required: ['subtotal', 'discount', 'shipping', 'tax', 'grandTotal'],
      properties: { subtotal: money, discount: money, shipping: money, tax: money, grandTotal: money },
    },
    taxesIncluded: { type: 'boolean' },
    fulfillmentType: { enum: ['ship', 'pickup', 'ship_from_store', 'delivery'] },
    cancelReason: nullable(str),
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const ajv = new Ajv({ allErrors: false, strict: true });
addFormats(ajv, ['date-time', 'email']);
const validateOrder = ajv.compile(orderSchema);

module.exports = { mapShopifyOrder, validateOrder, orderSchema };
