import type { TokenCredential } from '@azure/identity';
import { type Dispatcher, request } from 'undici';
import { createCredential, GRAPH_SCOPE } from '../shared/graph/graph-client';
import type { GraphCreateChatBody } from '../shared/core/model';
import type { SimulatorWithTrust } from './stack';
import { sleep } from './stack';

/**
 * The two naive clients P1 compares the service with, against the same simulator:
 * - serial: one POST /chats at a time, waiting Retry-After on a 429 (a careful script);
 * - fan-out: every POST at once, each retrying after Retry-After on a 429 (an impatient one).
 * Both get their token from the same credential class the service uses (shared/graph/graph-client.ts).
 */

export interface ClientRun {
  /** POST /chats calls sent. */
  calls: number;
  created: number;
  throttled: number;
  otherErrors: number;
  elapsedMs: number;
  /** Chats created per second of the run. */
  rate: number;
}

export function credentialFor(trusted: SimulatorWithTrust): TokenCredential {
  const { sim } = trusted;
  return createCredential({
    credential: {
      kind: 'clientSecret',
      tenantId: sim.tenantId,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
    },
    baseUrl: sim.graphBaseUrl,
    authorityHost: sim.authorityHost,
    extraCaCerts: sim.ca,
    maxRps: 1,
  });
}

async function postChat(
  trusted: SimulatorWithTrust,
  dispatcher: Dispatcher,
  token: string,
  body: GraphCreateChatBody,
): Promise<{ status: number; retryAfterMs?: number }> {
  const answer = await request(`${trusted.sim.graphBaseUrl}/v1.0/chats`, {
    method: 'POST',
    dispatcher,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  await answer.body.text();
  const retryAfter = answer.headers['retry-after'];
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return { status: answer.statusCode, ...(Number.isFinite(seconds) ? { retryAfterMs: seconds * 1000 } : {}) };
}

/** One POST at a time until `bodies` run out or `maxMs` passes. */
export async function runSerialClient(
  trusted: SimulatorWithTrust,
  bodies: readonly GraphCreateChatBody[],
  maxMs: number,
): Promise<ClientRun> {
  const credential = credentialFor(trusted);
  const token = (await credential.getToken(GRAPH_SCOPE))?.token ?? '';
  const run: ClientRun = { calls: 0, created: 0, throttled: 0, otherErrors: 0, elapsedMs: 0, rate: 0 };
  const started = performance.now();
  const deadline = started + maxMs;
  for (const body of bodies) {
    let done = false;
    for (let attempt = 0; attempt < 20 && !done && performance.now() < deadline; attempt += 1) {
      const answer = await postChat(trusted, trusted.dispatcher, token, body);
      run.calls += 1;
      if (answer.status === 201) {
        run.created += 1;
        done = true;
      } else if (answer.status === 429) {
        run.throttled += 1;
        await sleep(Math.min(answer.retryAfterMs ?? 1000, Math.max(0, deadline - performance.now())));
      } else {
        run.otherErrors += 1;
        done = true;
      }
    }
    if (performance.now() >= deadline) break;
  }
  run.elapsedMs = performance.now() - started;
  run.rate = run.created / (run.elapsedMs / 1000);
  return run;
}

/** Every POST at once; each one retries after Retry-After on a 429, up to 30 tries, within `maxMs`. */
export async function runFanOutClient(
  trusted: SimulatorWithTrust,
  bodies: readonly GraphCreateChatBody[],
  maxMs: number,
  dispatcher: Dispatcher,
): Promise<ClientRun> {
  const credential = credentialFor(trusted);
  const token = (await credential.getToken(GRAPH_SCOPE))?.token ?? '';
  const run: ClientRun = { calls: 0, created: 0, throttled: 0, otherErrors: 0, elapsedMs: 0, rate: 0 };
  const started = performance.now();
  const deadline = started + maxMs;
  let lastCreatedAt = started;
  await Promise.all(
    bodies.map(async (body) => {
      for (let attempt = 0; attempt < 30 && performance.now() < deadline; attempt += 1) {
        let answer: { status: number; retryAfterMs?: number };
        try {
          answer = await postChat(trusted, dispatcher, token, body);
        } catch {
          run.otherErrors += 1;
          return;
        }
        run.calls += 1;
        if (answer.status === 201) {
          run.created += 1;
          lastCreatedAt = performance.now();
          return;
        }
        if (answer.status !== 429) {
          run.otherErrors += 1;
          return;
        }
        run.throttled += 1;
        await sleep(Math.min(answer.retryAfterMs ?? 1000, Math.max(0, deadline - performance.now())));
      }
    }),
  );
  run.elapsedMs = lastCreatedAt - started;
  run.rate = run.created / (Math.max(1, run.elapsedMs) / 1000);
  return run;
}
