import * as net from 'node:net';

/** Which of the ports a local run wants are taken, found before anything starts. */

export interface WantedPort {
  port: number;
  /** What would listen there, e.g. "the local host". */
  what: string;
  /** How to choose another one, e.g. "set LOCAL_HOST_PORT (or Host.LocalHttpPort in local.settings.json)". */
  howToChange: string;
}

/** True when `port` cannot be bound on `host` because something listens there. */
export function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      // No IPv6 on this machine (EADDRNOTAVAIL, EAFNOSUPPORT) is not "in use".
      resolve(error.code === 'EADDRINUSE' || error.code === 'EACCES');
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** One line per wanted port that is taken (on 127.0.0.1 or ::1); port 0 (any free port) is never taken. */
export async function takenPorts(wanted: WantedPort[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { port, what, howToChange } of wanted) {
    if (port === 0) continue;
    if ((await portInUse(port, '127.0.0.1')) || (await portInUse(port, '::1'))) {
      problems.push(`port ${port} (${what}) is in use by another program; ${howToChange}`);
    }
  }
  return problems;
}
