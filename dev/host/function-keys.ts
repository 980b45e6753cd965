/** Function-key authorization, as the host's AuthenticationLevelHandler does it. */
import { timingSafeEqual } from 'node:crypto';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface FunctionKeys {
  functionKeys: readonly string[];
  masterKey?: string;
}

/** Binding `authLevel` as the library writes it; `system` keys do not exist locally, so it needs the master key. */
export function toAuthLevel(value: unknown): AuthLevel {
  switch (String(value ?? 'anonymous').toLowerCase()) {
    case 'anonymous':
      return 'anonymous';
    case 'function':
      return 'function';
    case 'admin':
    case 'system':
      return 'admin';
    default:
      throw new Error(`unknown authLevel ${JSON.stringify(value)}`);
  }
}

/**
 * The key a request presents: the `x-functions-key` header, else the `code` query parameter.
 * The header takes precedence even when empty, exactly like the host (an empty header means "no key").
 */
export function presentedKey(headerValue: string | string[] | undefined, query: URLSearchParams): string | undefined {
  const value =
    headerValue !== undefined ? (Array.isArray(headerValue) ? headerValue[0] : headerValue) : query.get('code');
  return value ? value : undefined;
}

function sameKey(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Function level: any function key or the master key. Admin level: the master key only. */
export function isAuthorized(level: AuthLevel, key: string | undefined, keys: FunctionKeys): boolean {
  if (level === 'anonymous') return true;
  if (!key) return false;
  if (keys.masterKey && sameKey(key, keys.masterKey)) return true;
  return (
    level === 'function' && keys.functionKeys.some((functionKey) => functionKey !== '' && sameKey(key, functionKey))
  );
}
