import { createHmac, randomInt, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FakeAmazon, startFakeAmazon } from '../../connectors/amazon-sp/fake-amazon';
import { FakeEasyPost, startFakeEasyPost } from '../../connectors/easypost/fake-easypost';
import { FakeNetSuite, TEST_CREDENTIALS, startFakeNetSuite } from '../../connectors/netsuite/fake-netsuite';
import { FakeShopify, startFakeShopify } from '../../connectors/shopify/fake-shopify';
import { FakeSquare, catalogVariation, startFakeSquare } from '../../connectors/square/fake-square';
import { Fake3pl, startFake3pl } from '../../connectors/x12-3pl/fake-3pl';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';

/*
 * The retail order flow end to end, as an integration team wires it: every vendor is played by its
 * connector's fake server, the hub runs for real (HTTP, Redis, database, workers).
 *
 *   Shopify order ──► NetSuite salesOrder + 3PL 940      Amazon order (polled) ──► NetSuite + 3PL 940
 *   3PL 945 ──► shipment.created ──► EasyPost tracker, and the order's own channel (Shopify or Amazon)
 *   3PL 846 ──► inventory.level ──► Shopify and Square stock levels
 */

type Json = Record<string, any>;
const CONNECTORS = path.join(__dirname, '../../connectors');
const readJson = (...parts: string[]) => JSON.parse(fs.readFileSync(path.join(CONNECTORS, ...parts), 'utf8'));

const FAST = { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 5000, maxAttempts: 3 };
// Shopify: the shop, its webhook secret, the order #1042 of the fixture, the warehouse's location in the shop.
const SHOP = 'acme-mugs.myshopify.com';
const SHOPIFY_SECRET = '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';
const SHOPIFY_ORDER = fs.readFileSync(path.join(CONNECTORS, 'shopify/fixtures/orders-create.raw-body.json'));
const SHOPIFY_ORDER_ID = '6123456789012';
const SHOPIFY_LOCATION = 'gid://shopify/Location/71234567890';
const SHOPIFY_ITEMS = { 'MUG-STN-SLT': 'gid://shopify/InventoryItem/46123456789012', 'CRF-600': 'gid://shopify/InventoryItem/46123456789013' };
// Square: the same SKUs in the POS catalog, and its warehouse location.
const SQUARE_TOKEN = 'sq-retail-flow-token';
const SQUARE_VARIATIONS = { 'MUG-STN-SLT': 'FGQ5JJWT2PYTHF35CKZ2DSKP', 'CRF-600': '7ZQK3V2M4N6B8C1X5L9P0RTA' };
const SQUARE_LOCATION = 'L7QW2M5N8R3TX';
// NetSuite: the sandbox account, the web customer, the items (internal id → SKU, their external id).
const NETSUITE_ACCOUNT = '7654321_SB1';
const NETSUITE_CUSTOMER = '107';
// The 3PL: the warehouse's code in its 846s, and the bearer token it posts documents with.
const WAREHOUSE = 'NJ01';
const WAREHOUSE_TOKEN = 'x12-retail-flow-token-Qm4s8Vw2';
// Amazon: a US marketplace order (the connector's sample) with a fresh id, updated 8 minutes ago.
const MARKETPLACE = 'ATVPDKIKX0DER';
const AMAZON_ORDER_ID = `${randomInt(100, 999)}-${randomInt(1e6, 1e7 - 1)}-${randomInt(1e6, 1e7 - 1)}`;
// Route filters: a shipment carries the ids its order had where it was sold (the 940 remembered them), so it goes to that channel.
const SOLD_ON_SHOPIFY = '$exists(data.orderRef.externalIds.shopify)';
const SOLD_ON_AMAZON = '$exists(data.orderRef.externalIds."amazon-sp")';

describe('the retail order flow through the hub, every vendor played by its fake', () => {
  let hub: TestHub;
  let shopify: FakeShopify;
  let square: FakeSquare;
  let netsuite: FakeNetSuite;
  let warehouse: Fake3pl;
  let amazon: FakeAmazon;
  let easypost: FakeEasyPost;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
    [shopify, square, netsuite, warehouse, amazon, easypost] = await Promise.all([
      startFakeShopify(),
      startFakeSquare({
        accessToken: SQUARE_TOKEN,
        catalog: Object.fromEntries(Object.entries(SQUARE_VARIATIONS).map(([sku, id]) => [id, catalogVariation(id, sku)])),
        locations: { [SQUARE_LOCATION]: { id: SQUARE_LOCATION, name: 'Acme Mugs Warehouse', status: 'ACTIVE', currency: 'USD' } },
      }),
      startFakeNetSuite({ accountId: NETSUITE_ACCOUNT, items: { '201': 'MUG-STN-SLT', '202': 'CRF-600' }, customers: [NETSUITE_CUSTOMER] }),
      startFake3pl(),
      startFakeAmazon({ rateLimit: '50.0' }),
      startFakeEasyPost(),
    ]);
  });
  afterAll(async () => {
    await hub.close();
    await Promise.all([shopify, square, netsuite, warehouse, amazon, easypost].map((fake) => fake?.close()));
  });

  const connect = async (connector: string, body: Json): Promise<{ id: string; webhookUrl: string }> => {
    const res = await hub.admin.post('/api/connections', { connector, name: `${connector}-${randomUUID().slice(0, 6)}`, delivery: FAST, ...body });
    if (res.status !== 201) throw new Error(`creating the ${connector} connection failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const route = async (from: string, to: string, eventTypes: string[], filter?: string) => {
    const res = await hub.admin.post('/api/routes', { source: { connectionId: from }, destination: { connectionId: to }, eventTypes, ...(filter ? { filter } : {}) });
    if (res.status !== 201) throw new Error(`creating a route failed: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const xref = async (system: string, entityType: string, key: string, externalId: string) =>
    expect((await hub.admin.put('/api/xrefs', { system, entityType, key, externalId })).status).toBe(200);
  const postX12 = (connectionId: string, body: string) =>
    hub.http.post(`/webhooks/${connectionId}`).set('content-type', 'application/edi-x12').set('authorization', `Bearer ${WAREHOUSE_TOKEN}`).send(body);
  const settled = (messageId: string) =>
    waitFor(async () => {
      const m = (await hub.admin.get(`/api/messages/${messageId}`)).body as Json;
      return m.status === 'completed' && m.deliveries.every((d: Json) => ['delivered', 'dead_lettered'].includes(d.status)) ? m : undefined;
    }, `message ${messageId} completed with every delivery settled`);

  it('orders reach NetSuite and the 3PL; its shipments reach EasyPost and the channels; its stock counts reach Shopify and Square', async () => {
    // The integration team connects the shop, the POS, the ERP, the warehouse, the marketplace and the tracking service.
    const shop = await connect('shopify', { config: { shopDomain: SHOP, baseUrl: shopify.url }, secrets: { webhookSecret: SHOPIFY_SECRET, accessToken: shopify.state.accessToken } });
    const pos = await connect('square', { config: { baseUrl: square.url }, secrets: { signatureKey: 'sq-signature-key', accessToken: SQUARE_TOKEN } });
    const erp = await connect('netsuite', {
      config: { accountId: NETSUITE_ACCOUNT, customerId: NETSUITE_CUSTOMER, baseUrl: netsuite.url },
      secrets: { consumerKey: TEST_CREDENTIALS.consumerKey, consumerSecret: TEST_CREDENTIALS.consumerSecret, tokenId: TEST_CREDENTIALS.token, tokenSecret: TEST_CREDENTIALS.tokenSecret },
      delivery: { ...FAST, concurrency: 2 },
    });
    const wms = await connect('x12-3pl', { config: { senderId: warehouse.depositorId, receiverId: warehouse.warehouseId, usageIndicator: 'T', url: warehouse.url }, secrets: { inboundToken: WAREHOUSE_TOKEN } });
    const tracking = await connect('easypost', { config: { baseUrl: easypost.url, carrierNames: { UPSN: 'UPS' } }, secrets: { apiKey: easypost.apiKey } });

    // It wires the routes: orders to the ERP and the warehouse, shipments to tracking and to the order's own channel, stock to the stores.
    await route(shop.id, erp.id, ['order.created', 'order.updated', 'order.cancelled']);
    await route(shop.id, wms.id, ['order.created']);
    await route(wms.id, tracking.id, ['shipment.created']);
    await route(wms.id, shop.id, ['shipment.created'], SOLD_ON_SHOPIFY);
    await route(wms.id, shop.id, ['inventory.level']);
    await route(wms.id, pos.id, ['inventory.level']);

    // It maps the warehouse's code to the shop's and the POS's location (SKUs are found by SKU in both).
    await xref(shop.id, 'location', WAREHOUSE, SHOPIFY_LOCATION);
    await xref(pos.id, 'location', WAREHOUSE, SQUARE_LOCATION);
    shopify.state.locations.set(SHOPIFY_LOCATION, { name: 'NJ Fulfillment Center' });
    for (const [sku, item] of Object.entries(SHOPIFY_ITEMS)) shopify.state.inventoryItems.set(item, { sku });
    // The shop's order #1042 waits to be fulfilled: one open fulfillment order with its two lines.
    shopify.state.orders.set(`gid://shopify/Order/${SHOPIFY_ORDER_ID}`, {
      fulfillmentOrders: [
        {
          id: 'gid://shopify/FulfillmentOrder/9001',
          status: 'OPEN',
          lineItems: [
            { id: 'gid://shopify/FulfillmentOrderLineItem/90011', sku: 'MUG-STN-SLT', remainingQuantity: 2 },
            { id: 'gid://shopify/FulfillmentOrderLineItem/90012', sku: 'CRF-600', remainingQuantity: 1 },
          ],
        },
      ],
    });

    // A customer orders on Amazon; the marketplace connection polls it and the order goes to the ERP and the warehouse.
    const amazonSample = readJson('amazon-sp/fixtures/amazon-sp-getorders-response.json').payload.Orders[0];
    const amazonItems = (readJson('amazon-sp/fixtures/amazon-sp-getorderitems-response.json').payload.OrderItems as Json[]).map((item, i): Json => ({ ...item, OrderItemId: `${AMAZON_ORDER_ID.replace(/-/g, '')}${i}` }));
    const updated = new Date(Date.now() - 8 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    amazon.putOrder(
      {
        ...amazonSample,
        AmazonOrderId: AMAZON_ORDER_ID,
        SellerOrderId: AMAZON_ORDER_ID,
        PurchaseDate: updated,
        LastUpdateDate: updated,
        MarketplaceId: MARKETPLACE,
        // The street and name: SP-API shows them only to a poll with a Restricted Data Token (restrictedData below).
        ShippingAddress: { ...amazonSample.ShippingAddress, Name: 'Sam Rivera', AddressLine1: '88 Court St' },
      },
      amazonItems,
    );
    const marketplace = await connect('amazon-sp', {
      config: { marketplaceIds: [MARKETPLACE], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, pollIntervalSeconds: 86400, initialLookbackHours: 2, carrierCodes: { UPSN: 'UPS' }, restrictedData: true },
      secrets: { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken },
    });
    await route(marketplace.id, erp.id, ['order.created']);
    await route(marketplace.id, wms.id, ['order.created']);
    await route(wms.id, marketplace.id, ['shipment.created'], SOLD_ON_AMAZON);

    // A customer orders #1042 in the web shop; Shopify's orders/create webhook arrives, signed.
    const webhook = await hub.http
      .post(`/webhooks/${shop.id}`)
      .set('content-type', 'application/json')
      .set('x-shopify-topic', 'orders/create')
      .set('x-shopify-shop-domain', SHOP)
      .set('x-shopify-event-id', randomUUID())
      .set('x-shopify-webhook-id', randomUUID())
      .set('x-shopify-hmac-sha256', createHmac('sha256', SHOPIFY_SECRET).update(SHOPIFY_ORDER).digest('base64'))
      .send(SHOPIFY_ORDER.toString('utf8'));
    expect(webhook.status).toBe(202);

    // NetSuite books each order once, as a sales order keyed by channel and order id.
    await waitFor(async () => netsuite.recordsOf('salesOrder').length >= 2 || undefined, 'both sales orders in NetSuite');
    expect(netsuite.recordsOf('salesOrder').map((r) => r.externalId).sort()).toEqual([`amazon-sp-${AMAZON_ORDER_ID}`, `shopify-${SHOPIFY_ORDER_ID}`]);
    expect(netsuite.recordsOf('salesOrder').find((r) => r.externalId === `shopify-${SHOPIFY_ORDER_ID}`)!.fields).toMatchObject({ otherRefNum: '#1042', entity: { id: NETSUITE_CUSTOMER } });

    // The warehouse receives one 940 per order: W05 is the shop's order name or the Amazon order id, with the ordered lines.
    await waitFor(async () => warehouse.shippingOrders.length >= 2 || undefined, 'both 940s at the warehouse');
    expect(warehouse.shippingOrders.map((o) => o.depositorOrderNumber).sort()).toEqual(['#1042', AMAZON_ORDER_ID].sort());
    const sentFor = (orderNumber: string) => warehouse.shippingOrders.find((o) => o.depositorOrderNumber === orderNumber)!;
    expect(sentFor('#1042').lines.map((l) => [l.sku, l.quantity])).toEqual([['MUG-STN-SLT', 2], ['CRF-600', 1]]);
    expect(sentFor('#1042').shipTo).toMatchObject({ name: 'Maria Lopez', line1: '221 Atlantic Ave', city: 'Brooklyn', postalCode: '11201' });
    expect(sentFor(AMAZON_ORDER_ID).lines.map((l) => [l.sku, l.quantity, l.lineId])).toEqual(amazonItems.map((i) => [i.SellerSKU, i.QuantityOrdered, i.OrderItemId]));

    // Both orders leave the warehouse: it posts a 945 for each, with its carrier and tracking number.
    const shippedWeb = await postX12(wms.id, warehouse.shippingAdvice('#1042', [{ sku: 'MUG-STN-SLT', ordered: 2, shipped: 2 }, { sku: 'CRF-600', ordered: 1, shipped: 1 }], { scac: 'UPSN', trackingNumber: 'EZ1000000001' }));
    const shippedAmazon = await postX12(wms.id, warehouse.shippingAdvice(AMAZON_ORDER_ID, [{ sku: 'MUG-STN-SLT', ordered: 2, shipped: 2 }, { sku: 'CRF-600', ordered: 1, shipped: 1 }], { scac: 'UPSN', trackingNumber: 'EZ2000000002' }));
    expect([shippedWeb.status, shippedAmazon.status]).toEqual([202, 202]);

    // EasyPost tracks both parcels, one tracker per tracking number.
    await waitFor(async () => easypost.trackers.length >= 2 || undefined, 'both trackers at EasyPost');
    expect(easypost.trackers.map((t) => [t.tracking_code, t.carrier]).sort()).toEqual([['EZ1000000001', 'UPS'], ['EZ2000000002', 'UPS']]);

    // Amazon is told its order shipped, once, with the OrderItemIds the poll recorded.
    await waitFor(async () => amazon.confirmations.length >= 1 || undefined, 'the shipment confirmation at Amazon');
    expect(amazon.confirmations).toHaveLength(1);
    expect(amazon.confirmations[0].orderId).toBe(AMAZON_ORDER_ID);
    expect(amazon.confirmations[0].body).toMatchObject({
      marketplaceId: MARKETPLACE,
      packageDetail: { carrierCode: 'UPS', trackingNumber: 'EZ2000000002', orderItems: amazonItems.map((i) => ({ orderItemId: i.OrderItemId, quantity: i.QuantityOrdered })) },
    });

    // The warehouse reports its stock: an 846 with the counts at NJ01.
    const stock = await postX12(wms.id, warehouse.inventoryAdvice([{ sku: 'MUG-STN-SLT', available: 35, onHand: 37 }, { sku: 'CRF-600', available: 12, onHand: 12 }], { locationCode: WAREHOUSE }));
    expect(stock.status).toBe(202);

    // The shop and the POS show the warehouse's available quantities for those SKUs at their warehouse location.
    await waitFor(async () => shopify.state.available.size >= 2 && square.state.inventoryBatches.length >= 2 || undefined, 'the levels in Shopify and Square');
    expect(shopify.state.available.get(`${SHOPIFY_ITEMS['MUG-STN-SLT']}|${SHOPIFY_LOCATION}`)).toBe(35);
    expect(shopify.state.available.get(`${SHOPIFY_ITEMS['CRF-600']}|${SHOPIFY_LOCATION}`)).toBe(12);
    const counts = square.state.inventoryBatches.flatMap((b) => b.changes as Json[]).map((c) => c.physical_count);
    expect(counts.map((c) => [c.catalog_object_id, c.location_id, c.state, c.quantity]).sort()).toEqual(
      [[SQUARE_VARIATIONS['MUG-STN-SLT'], SQUARE_LOCATION, 'IN_STOCK', '35'], [SQUARE_VARIATIONS['CRF-600'], SQUARE_LOCATION, 'IN_STOCK', '12']].sort(),
    );

    // Every 945 and 846 group the warehouse sent was acknowledged with a 997.
    await waitFor(async () => warehouse.acknowledgments.length >= 3 || undefined, 'three 997s at the warehouse');
    expect(warehouse.acknowledgments.map((a) => [a.functionalId, a.status, a.sets.map((s) => s.id).join()]).sort()).toEqual([['IB', 'A', '846'], ['SW', 'A', '945'], ['SW', 'A', '945']]);

    // Every message the hub took in was processed, and each delivery settled.
    const messages = (await hub.admin.get('/api/messages?limit=100')).body.items as Json[];
    expect(messages.map((m) => m.topic).sort()).toEqual(['846', '945', '945', 'orders/Unshipped', 'orders/create']);
    const details = await Promise.all(messages.map((m) => settled(m.id)));
    const destinationsOf = (messageId: string) => details.find((m) => m.id === messageId)!.deliveries.map((d: Json) => d.destinationConnectionId).sort();
    // The route filters sent each shipment to tracking and to its own channel only.
    expect(destinationsOf(shippedWeb.body.messageId)).toEqual([tracking.id, shop.id].sort());
    expect(destinationsOf(shippedAmazon.body.messageId)).toEqual([tracking.id, marketplace.id].sort());
    expect(destinationsOf(webhook.body.messageId)).toEqual([erp.id, wms.id].sort());
    // And nothing reached a vendor twice.
    expect([netsuite.calls().length, warehouse.shippingOrders.length, easypost.trackers.length, amazon.confirmations.length, warehouse.acknowledgments.length]).toEqual([2, 2, 2, 1, 3]);

    // The shop's order #1042 is fulfilled in Shopify with the warehouse's tracking number.
    const fulfilled = shopify.graphqlCalls().filter((c) => c.operation === 'FulfillmentCreate');
    expect(fulfilled).toHaveLength(1);
    expect(shopify.state.fulfillments).toHaveLength(1);
    expect(shopify.state.fulfillments[0].input).toMatchObject({ trackingInfo: { numbers: ['EZ1000000001'] } });
    // Nothing needs a person: every delivery delivered, no dead letter open.
    expect((await hub.admin.get('/api/dead-letters?status=open')).body.items).toEqual([]);
    expect(details.flatMap((m) => m.deliveries.filter((d: Json) => d.status !== 'delivered').map((d: Json) => [m.topic, d.destinationConnectionId, d.status]))).toEqual([]);
  });
});
