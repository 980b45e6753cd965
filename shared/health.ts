import { idTime } from './ids';
import { isLoopbackHost } from './config';
import { State } from './model';
import type { Services } from './services';

/** What /api/health reports: no secrets, no member data, just whether the parts work. */
export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  storage: { ok: boolean; error?: string };
  graph: { configured: boolean; credential: string; baseUrl: string; simulated: boolean };
  queue: { name: string; approximateDepth?: number; poisonDepth?: number };
  pending: { count: number; oldestAgeSeconds?: number };
  checkedAt: string;
}

const PENDING_SAMPLE = 1000;

export async function checkHealth(svc: Services, now = new Date()): Promise<HealthReport> {
  const graphHost = new URL(svc.config.graph.baseUrl).hostname;
  const report: HealthReport = {
    status: 'healthy',
    storage: { ok: true },
    graph: {
      configured: true,
      credential: svc.config.graph.credential.kind,
      baseUrl: svc.config.graph.baseUrl,
      simulated: isLoopbackHost(graphHost),
    },
    queue: { name: svc.config.queueName },
    pending: { count: 0 },
    checkedAt: now.toISOString(),
  };
  try {
    await svc.ready();
    const [queue, poison, pending] = await Promise.all([
      svc.queueClient.getProperties(),
      svc.poisonQueue.getProperties(),
      // dueAt is compared as text: the far-future bound must be a plain 4-digit-year ISO time.
      svc.store.listDue(State.pending, new Date('9999-12-31T23:59:59.999Z'), PENDING_SAMPLE),
    ]);
    report.queue.approximateDepth = queue.approximateMessagesCount;
    report.queue.poisonDepth = poison.approximateMessagesCount;
    report.pending.count = pending.length;
    const oldest = Math.min(...pending.map((p) => idTime(p.id).getTime()));
    if (Number.isFinite(oldest)) report.pending.oldestAgeSeconds = Math.round((now.getTime() - oldest) / 1000);
  } catch (error) {
    report.status = 'unhealthy';
    report.storage = { ok: false, error: (error as Error)?.message?.split('\n')[0] ?? 'unreachable' };
  }
  return report;
}
