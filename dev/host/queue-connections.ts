/** Storage connections for queue bindings, resolved the way the storage extension resolves them. */
import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';

/**
 * The connection string for a binding's `connection`: `AzureWebJobs<name>`, then `<name>`
 * (default `AzureWebJobsStorage`). Identity-based connections (`<name>__queueServiceUri`...) need Azure AD,
 * which the local host does not do; both cases fail with a message that says what to set.
 */
export function storageConnectionString(
  connection: unknown,
  settings: Readonly<Record<string, string | undefined>>,
): string {
  const name = typeof connection === 'string' && connection !== '' ? connection : 'AzureWebJobsStorage';
  const value = settings[`AzureWebJobs${name}`] || settings[name];
  if (value) return value;
  if (Object.keys(settings).some((key) => key.startsWith(`${name}__`))) {
    throw new Error(
      `Connection "${name}" is identity-based (${name}__...); the local host needs a connection string in "${name}" (e.g. Azurite's)`,
    );
  }
  throw new Error(
    `Storage account connection string '${name}' does not exist. Make sure that it is a defined App Setting.`,
  );
}

/** One service client per connection string, shared by every binding that uses it. */
export class QueueConnections {
  readonly #services = new Map<string, QueueServiceClient>();

  constructor(private readonly settings: Readonly<Record<string, string | undefined>>) {}

  queue(connection: unknown, queueName: string): QueueClient {
    const connectionString = storageConnectionString(connection, this.settings);
    let service = this.#services.get(connectionString);
    if (!service) {
      service = QueueServiceClient.fromConnectionString(connectionString);
      this.#services.set(connectionString, service);
    }
    return service.getQueueClient(queueName);
  }
}
