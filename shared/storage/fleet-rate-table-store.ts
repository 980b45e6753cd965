import { TableClient } from '@azure/data-tables';
import { asStorageError, isConflict, isNotFound, isPreconditionFailed } from '../core/errors';
import type { FleetRate } from '../core/rate/aimd';
import { FORGET_INSTANCE_MS, type FleetRateStore, HEARTBEAT_INTERVAL_MS } from '../core/rate/fleet-rate-store';

/** The fleet row and instance heartbeats, in the requests table. */
export class TableFleetRateStore implements FleetRateStore {
  constructor(private readonly table: TableClient) {}

  async read(): Promise<{ state: FleetRate; etag?: string } | undefined> {
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>('throttle', 'graph');
      return {
        state: {
          rate: Number(entity.rate),
          pausedUntil: Number(entity.pausedUntil),
          lastDecreaseAt: Number(entity.lastDecreaseAt),
          lastIncreaseAt: Number(entity.lastIncreaseAt),
        },
        etag: entity.etag,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return asStorageError(error, 'read fleet rate');
    }
  }

  async write(state: FleetRate, etag?: string): Promise<boolean> {
    const entity = { partitionKey: 'throttle', rowKey: 'graph', ...state };
    try {
      if (etag) await this.table.updateEntity(entity, 'Replace', { etag });
      else await this.table.createEntity(entity);
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isConflict(error)) return false;
      return asStorageError(error, 'write fleet rate');
    }
  }

  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.table.upsertEntity({ partitionKey: 'throttle-instances', rowKey: instanceId, seenAt: now }, 'Replace');
  }

  async liveInstances(now: number): Promise<number> {
    let count = 0;
    const since = now - 3 * HEARTBEAT_INTERVAL_MS;
    const gone: string[] = [];
    for await (const entity of this.table.listEntities<{ seenAt: number }>({
      queryOptions: { filter: `PartitionKey eq 'throttle-instances'`, select: ['RowKey', 'seenAt'] },
    })) {
      if (entity.seenAt >= since) count += 1;
      else if (entity.seenAt < now - FORGET_INSTANCE_MS && entity.rowKey) gone.push(entity.rowKey);
    }
    // Instances that scaled in long ago leave their row behind: clear a few per count so the partition stays small.
    await Promise.all(
      gone.slice(0, 20).map((rowKey) => this.table.deleteEntity('throttle-instances', rowKey).catch(() => undefined)),
    );
    return count;
  }
}
