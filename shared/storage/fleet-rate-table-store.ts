import { TableClient } from '@azure/data-tables';
import { asStorageError, isConflict, isNotFound, isPreconditionFailed } from '../core/errors';
import type { FleetRate } from '../core/rate/aimd';
import {
  FORGET_INSTANCE_MS,
  type FleetRateStore,
  type InstanceReport,
  LIVE_INSTANCE_MS,
} from '../core/rate/fleet-rate-store';

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
          // A row of an earlier version has no learnedAt: the rate reads as not learned yet.
          learnedAt: Number(entity.learnedAt ?? 0),
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

  async heartbeat(report: InstanceReport): Promise<void> {
    const { instanceId, seenAt, acceptedRate, busySince } = report;
    await this.table.upsertEntity(
      {
        partitionKey: 'throttle-instances',
        rowKey: instanceId,
        seenAt,
        acceptedRate,
        ...(busySince === undefined ? {} : { busySince }),
      },
      'Replace',
    );
  }

  async liveInstances(now: number): Promise<InstanceReport[]> {
    const live: InstanceReport[] = [];
    const since = now - LIVE_INSTANCE_MS;
    const gone: string[] = [];
    for await (const entity of this.table.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter: `PartitionKey eq 'throttle-instances'`,
        select: ['RowKey', 'seenAt', 'acceptedRate', 'busySince'],
      },
    })) {
      const seenAt = Number(entity.seenAt);
      if (seenAt >= since && entity.rowKey) live.push(reportOf(entity.rowKey, seenAt, entity));
      else if (!(seenAt >= now - FORGET_INSTANCE_MS) && entity.rowKey) gone.push(entity.rowKey);
    }
    // Instances that scaled in long ago leave their row behind: clear a few per count so the partition stays small.
    await Promise.all(
      gone.slice(0, 20).map((rowKey) => this.table.deleteEntity('throttle-instances', rowKey).catch(() => undefined)),
    );
    return live;
  }
}

/** A row written before reports carried a rate (or by hand) reads as an idle instance that accepted nothing. */
function reportOf(instanceId: string, seenAt: number, entity: Record<string, unknown>): InstanceReport {
  const acceptedRate = Number(entity.acceptedRate);
  const busySince = entity.busySince === undefined || entity.busySince === null ? Number.NaN : Number(entity.busySince);
  return {
    instanceId,
    seenAt,
    acceptedRate: Number.isFinite(acceptedRate) && acceptedRate > 0 ? acceptedRate : 0,
    ...(Number.isFinite(busySince) ? { busySince } : {}),
  };
}
