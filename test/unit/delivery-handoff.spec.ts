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
    expect(handoff.take('a')).toEqual(loaded('a'));
    expect(handoff.take('a')).toBeUndefined();
    expect(handoff.take('b')?.delivery.id).toBe('b');
    expect(handoff.size).toBe(0);
  });

  it('does not hand over a delivery offered more than 2 s ago: its state may have moved on', () => {
    const handoff = new DeliveryHandoff();
    handoff.offer([loaded('a'), loaded('b')]);
    now += 2000;
    expect(handoff.take('a')).toBeDefined();
    now += 1;
    expect(handoff.take('b')).toBeUndefined();
    expect(handoff.size).toBe(0);
  });

  it('keeps the newest 256 when the delivery queues fall behind', () => {
    const handoff = new DeliveryHandoff();
    for (let i = 0; i < 300; i++) handoff.offer([loaded(`d${i}`)]);
    expect(handoff.size).toBe(256);
    expect(handoff.take('d43')).toBeUndefined();
    expect(handoff.take('d44')).toBeDefined();
    expect(handoff.take('d299')).toBeDefined();
  });
});
