import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';

/**
 * Measuring wrappers around the SDK clients the service's adapters are given: every call is counted
 * and timed, and every entity a query yields is counted. The adapters (TableRequestStore,
 * StorageRequestQueue) run unchanged on top; only the bench sees the numbers.
 */

export interface CallStats {
  calls: number;
  ms: number;
}

export class StorageMeter {
  readonly byMethod = new Map<string, CallStats>();
  /** Entities returned by queries (listEntities) plus point reads (getEntity). */
  entitiesRead = 0;
  /** Entities returned by queries only. */
  queryRows = 0;
  /** Calls started and not yet answered (intake leaves one in the background: clearing its marker). */
  inFlight = 0;
  private waiters: (() => void)[] = [];

  started(): void {
    this.inFlight += 1;
  }

  finished(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once no metered call is in flight (at once when none is). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  record(method: string, ms: number): void {
    const stats = this.byMethod.get(method) ?? { calls: 0, ms: 0 };
    stats.calls += 1;
    stats.ms += ms;
    this.byMethod.set(method, stats);
  }

  get roundTrips(): number {
    let total = 0;
    for (const stats of this.byMethod.values()) total += stats.calls;
    return total;
  }

  snapshot(): { roundTrips: number; entitiesRead: number; queryRows: number; byMethod: Record<string, CallStats> } {
    return {
      roundTrips: this.roundTrips,
      entitiesRead: this.entitiesRead,
      queryRows: this.queryRows,
      byMethod: Object.fromEntries([...this.byMethod].map(([k, v]) => [k, { ...v }])),
    };
  }

  reset(): void {
    this.byMethod.clear();
    this.entitiesRead = 0;
    this.queryRows = 0;
  }
}

const TIMED_TABLE_METHODS = [
  'getEntity',
  'createEntity',
  'upsertEntity',
  'updateEntity',
  'deleteEntity',
  'submitTransaction',
  'createTable',
] as const;

type AnyFunction = (...args: unknown[]) => unknown;

function timed(meter: StorageMeter, name: string, fn: AnyFunction, self: unknown): AnyFunction {
  return async (...args: unknown[]) => {
    const started = performance.now();
    meter.started();
    try {
      const result = await fn.apply(self, args);
      if (name === 'table.getEntity') meter.entitiesRead += 1;
      return result;
    } finally {
      meter.record(name, performance.now() - started);
      meter.finished();
    }
  };
}

interface PagedIterator<T> extends AsyncIterableIterator<T> {
  byPage(settings?: { maxPageSize?: number; continuationToken?: string }): AsyncIterableIterator<T[]>;
}

/** One listEntities call = one query; each page fetched = one round trip (timed as it is awaited). */
function countedQuery<T>(meter: StorageMeter, inner: PagedIterator<T>): PagedIterator<T> {
  const pages = (settings?: { maxPageSize?: number; continuationToken?: string }): AsyncIterableIterator<T[]> => {
    const source = inner.byPage(settings);
    return {
      async next() {
        const started = performance.now();
        meter.started();
        let step: IteratorResult<T[]>;
        try {
          step = await source.next();
        } catch (error) {
          meter.record('table.listEntities(page)', performance.now() - started);
          throw error;
        } finally {
          meter.finished();
        }
        // The step after the last page (no continuation token) ends the iteration without a request.
        if (!step.done) {
          meter.record('table.listEntities(page)', performance.now() - started);
          meter.entitiesRead += step.value.length;
          meter.queryRows += step.value.length;
        }
        return step;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
  return {
    byPage: pages,
    [Symbol.asyncIterator]() {
      return this;
    },
    // Entity by entity: walk the pages, so the page round trips are counted the same way.
    next: (() => {
      let current: T[] = [];
      let source: AsyncIterableIterator<T[]> | undefined;
      return async (): Promise<IteratorResult<T>> => {
        while (current.length === 0) {
          source ??= pages();
          const step = await source.next();
          if (step.done) return { done: true, value: undefined };
          current = [...step.value];
        }
        return { done: false, value: current.shift() as T };
      };
    })(),
  };
}

export function meteredTable(table: TableClient, meter: StorageMeter): TableClient {
  return new Proxy(table, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'listEntities') {
        return (...args: unknown[]) =>
          countedQuery(meter, (value as AnyFunction).apply(target, args) as PagedIterator<unknown>);
      }
      if ((TIMED_TABLE_METHODS as readonly (string | symbol)[]).includes(property)) {
        return timed(meter, `table.${String(property)}`, value as AnyFunction, target);
      }
      return (value as AnyFunction).bind(target);
    },
  });
}

/** The queue calls the service makes, and those the Functions host makes for it (receive, delete). */
const QUEUE_METHODS: (string | symbol)[] = ['sendMessage', 'createIfNotExists', 'receiveMessages', 'deleteMessage'];

export function meteredQueue(queue: QueueClient, meter: StorageMeter): QueueClient {
  return new Proxy(queue, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (QUEUE_METHODS.includes(property)) {
        return timed(meter, `queue.${String(property)}`, value as AnyFunction, target);
      }
      return (value as AnyFunction).bind(target);
    },
  });
}
