import { idTime } from '../core/ids';
import { isLoopbackHost } from '../platform/config';
import { State } from '../core/model';
import { parseRequestMessage } from '../core/queue/message';
import type { Services } from '../platform/composition-root';

/** What /api/health reports: no secrets, no member data, just whether the parts work. */
export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  storage: { ok: boolean; error?: string };
  graph: { configured: boolean; credential: string; baseUrl: string; simulated: boolean };
  queue: {
    name: string;
    approximateDepth?: number;
    poisonDepth?: number;
    /** Messages seen in the poison queue (visible ones: a message being handled is invisible). */
    poisonMessages?: PoisonMessageReport[];
  };
  pending: { count: number; oldestAgeSeconds?: number };
  checkedAt: string;
  /** Sentences for a person: what needs attention and what to do (health can be `healthy` with warnings). */
  warnings?: string[];
}

export interface PoisonMessageReport {
  messageId: string;
  insertedOn?: string;
  dequeueCount: number;
  /**
   * notBase64: the host cannot decode it (host.json messageEncoding is base64), so no function ever sees it and
   * it stays for ever; notARequest: decodes, but is not `{id, attempt}`; request: ours, waiting for the poison function.
   */
  problem: 'notBase64' | 'notARequest' | 'request';
}

const PENDING_SAMPLE = 1000;
/** Peek returns at most 32 messages. */
const POISON_SAMPLE = 32;

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
    if ((poison.approximateMessagesCount ?? 0) > 0) {
      const peeked = await svc.poisonQueue.peekMessages({ numberOfMessages: POISON_SAMPLE });
      report.queue.poisonMessages = peeked.peekedMessageItems.map((item) => ({
        messageId: item.messageId,
        insertedOn: item.insertedOn?.toISOString(),
        dequeueCount: item.dequeueCount,
        problem: classifyPoison(item.messageText),
      }));
      report.warnings = poisonWarnings(
        svc.config.poisonQueueName,
        poison.approximateMessagesCount ?? 0,
        report.queue.poisonMessages,
      );
    }
    report.pending.count = pending.length;
    const oldest = Math.min(...pending.map((p) => idTime(p.id).getTime()));
    if (Number.isFinite(oldest)) report.pending.oldestAgeSeconds = Math.round((now.getTime() - oldest) / 1000);
  } catch (error) {
    report.status = 'unhealthy';
    report.storage = { ok: false, error: (error as Error)?.message?.split('\n')[0] ?? 'unreachable' };
  }
  return report;
}

/** What a poison queue message is, from its raw text (never shown: it may be anyone's data). */
export function classifyPoison(messageText: string): PoisonMessageReport['problem'] {
  const compact = messageText.replace(/[ \t\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return 'notBase64';
  return parseRequestMessage(Buffer.from(compact, 'base64').toString('utf8')).ok ? 'request' : 'notARequest';
}

const RUNBOOK = 'docs/operations.md#poison-queue';

function poisonWarnings(queue: string, depth: number, seen: PoisonMessageReport[]): string[] {
  const warnings: string[] = [];
  const undecodable = seen.filter((m) => m.problem === 'notBase64');
  const strangers = seen.filter((m) => m.problem === 'notARequest');
  if (undecodable.length > 0) {
    warnings.push(
      `${undecodable.length} message(s) in ${queue} are not valid base64 (${undecodable.map((m) => m.messageId).join(', ')}): ` +
        'this service never writes such a message, the Functions host cannot decode it, so no function ever runs on it and it ' +
        `stays for ever. Something else writes to the queue: find it, then delete the message (${RUNBOOK}).`,
    );
  }
  if (strangers.length > 0) {
    warnings.push(
      `${strangers.length} message(s) in ${queue} are not request messages (${strangers.map((m) => m.messageId).join(', ')}): ` +
        `the poison function drops them; if they stay, delete them (${RUNBOOK}).`,
    );
  }
  const unseen = depth - seen.length;
  if (unseen > 0) {
    warnings.push(
      `${unseen} message(s) in ${queue} are invisible right now: being handled by the poison function (seconds), or ` +
        'messages the host cannot decode (not valid base64), which it takes and puts back every 10 minutes for ever. ' +
        `If poisonDepth stays above 0 for minutes, see ${RUNBOOK}.`,
    );
  }
  return warnings;
}
