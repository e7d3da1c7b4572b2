import { DeliveryStatus } from '@omnihub/persistence';
import { DeliveryHandoff, LoadedDelivery } from '../../apps/worker/src/delivery/delivery-handoff';

const loaded = (id: string): LoadedDelivery => ({
  delivery: { id, messageId: `m-${id}`, destinationConnectionId: 'dest', entityKey: null, entityVersion: null, status: DeliveryStatus.PENDING, attempts: 0, roundStartAttempts: 0, dataOverride: null },
  stored: { eventJson: '{}', eventId: `m-${id}`, eventType: 'order.created' },
});

describe('DeliveryHandoff', () => {
  let now = 1_000_000;
  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it('hands each delivery over once: a repeated job reads the database', () => {
    const handoff = new DeliveryHandoff();
    handoff.offer([loaded('a'), loaded('b')]);
    expect(handoff.take('a', 0)).toEqual(loaded('a'));
    expect(handoff.take('a', 0)).toBeUndefined();
    expect(handoff.take('b', 0)?.delivery.id).toBe('b');
    expect(handoff.size).toBe(0);
  });

  it('does not hand over a delivery offered more than 2 s ago: its state may have moved on', () => {
    const handoff = new DeliveryHandoff();
    handoff.offer([loaded('a'), loaded('b')]);
    now += 2000;
    expect(handoff.take('a', 0)).toBeDefined();
    now += 1;
    expect(handoff.take('b', 0)).toBeUndefined();
    expect(handoff.size).toBe(0);
  });

  it('keeps the newest 256 when the delivery queues fall behind', () => {
    const handoff = new DeliveryHandoff();
    for (let i = 0; i < 300; i++) handoff.offer([loaded(`d${i}`)]);
    expect(handoff.size).toBe(256);
    expect(handoff.take('d43', 0)).toBeUndefined();
    expect(handoff.take('d44', 0)).toBeDefined();
    expect(handoff.take('d299', 0)).toBeDefined();
  });
});

describe('DeliveryHandoff and later jobs of the same delivery', () => {
  it('gives an entry only to the job of the attempt it was made for (a replay within the age limit reads the database)', () => {
    const handoff = new DeliveryHandoff();
    handoff.offer([loaded('a'), loaded('b')]);
    expect(handoff.take('a', 1)).toBeUndefined(); // a replay's job, attempt 1: the entry (attempt 0) is stale
    expect(handoff.take('a', 0)).toBeUndefined(); // and it is gone
    expect(handoff.take('b', 0)?.delivery.id).toBe('b');
  });
});
