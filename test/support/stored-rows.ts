import { TableClient } from '@azure/data-tables';
import type { ChatRequest } from '../../shared/core/model';
import { ACTIVE, invertId, openRequestTables, placeOf } from '../../shared/storage/table-store';
import { State } from '../../shared/core/model';

/**
 * Request rows read straight from the tables (Azurite), the way an operator with Storage Explorer would,
 * without the service: a request's row is in the work table's `active` partition while in flight and in
 * `state-succeeded` / `state-failed` of the requests table once final; during a move it has a copy in two
 * places, and the one with the highest `rev` is the request.
 */
export class StoredRows {
  private readonly table: TableClient;
  private readonly work: TableClient;

  constructor(connectionString: string, tableName = 'ChatRequests') {
    ({ table: this.table, work: this.work } = openRequestTables(tableName, (name) =>
      TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true }),
    ));
  }

  /** The newest stored copy of request `id`, with its place; undefined when there is none. */
  async read(id: string): Promise<{ request: ChatRequest; place: string; rev: number } | undefined> {
    const places = [ACTIVE, placeOf(State.succeeded), placeOf(State.failed)];
    const copies = await Promise.all(
      places.map(async (place) => {
        try {
          const entity = await (place === ACTIVE ? this.work : this.table).getEntity<Record<string, unknown>>(
            place,
            invertId(id),
          );
          return { request: documentOf(entity), place, rev: Number(entity.rev ?? 0) };
        } catch {
          return undefined;
        }
      }),
    );
    const found = copies.filter((c) => c !== undefined);
    return found.length === 0 ? undefined : found.reduce((a, b) => (b.rev > a.rev ? b : a));
  }

  /** Every stored copy (both tables, every place), as `{ id, place, rev, request }`. */
  async all(): Promise<{ id: string; place: string; rev: number; request: ChatRequest }[]> {
    const filter = [ACTIVE, placeOf(State.succeeded), placeOf(State.failed)]
      .map((place) => `PartitionKey eq '${place}'`)
      .join(' or ');
    const rows: { id: string; place: string; rev: number; request: ChatRequest }[] = [];
    for (const client of [this.work, this.table]) {
      for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        rows.push({
          id: String(entity.requestId),
          place: String(entity.partitionKey),
          rev: Number(entity.rev ?? 0),
          request: documentOf(entity),
        });
      }
    }
    return rows;
  }
}

function documentOf(entity: Record<string, unknown>): ChatRequest {
  let json = '';
  for (let i = 0; i < Number(entity.chunks ?? 0); i += 1) json += String(entity[`doc${i}`] ?? '');
  return JSON.parse(json) as ChatRequest;
}
