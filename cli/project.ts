/**
 * Where the service is when the CLI runs inside a checkout of this project: the local host's port from
 * local.settings.json (`Host.LocalHttpPort`, as `npm start` and `func start` use it) and the function key
 * `npm start` keeps in `.data/function-key`. Pure reads; nothing is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface LocalProject {
  /** The project folder (has host.json and package.json). */
  dir: string;
  /** `http://localhost:<Host.LocalHttpPort>` when local.settings.json sets it. */
  url?: string;
  /** The key `npm start` made, when it has run here. */
  key?: string;
  /** A problem reading local.settings.json, to mention if the URL turns out wrong. */
  problem?: string;
}

/** The nearest folder at or above `cwd` holding host.json and package.json, read as above. */
export function findLocalProject(cwd: string): LocalProject | undefined {
  let dir = cwd;
  for (;;) {
    if (existsSync(join(dir, 'host.json')) && existsSync(join(dir, 'package.json'))) return readProject(dir);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readProject(dir: string): LocalProject {
  const project: LocalProject = { dir };
  const settingsFile = join(dir, 'local.settings.json');
  if (existsSync(settingsFile)) {
    try {
      const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as { Host?: { LocalHttpPort?: unknown } };
      const port = Number(settings.Host?.LocalHttpPort);
      if (settings.Host?.LocalHttpPort !== undefined) {
        if (Number.isInteger(port) && port > 0 && port < 65536) project.url = `http://localhost:${port}`;
        else
          project.problem = `local.settings.json Host.LocalHttpPort is not a port: ${String(settings.Host.LocalHttpPort)}`;
      }
    } catch (error) {
      project.problem = `local.settings.json is not valid JSON (${(error as Error).message})`;
    }
  }
  const keyFile = join(dir, '.data', 'function-key');
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (key) project.key = key;
  }
  return project;
}
