import { isAuthorized, presentedKey, toAuthLevel } from '../../dev/host/function-keys';

const keys = { functionKeys: ['fk'], masterKey: 'mk' };

describe('function keys', () => {
  it('takes the x-functions-key header before ?code=, even an empty header', () => {
    expect(presentedKey('h', new URLSearchParams('code=q'))).toBe('h');
    expect(presentedKey(undefined, new URLSearchParams('code=q'))).toBe('q');
    expect(presentedKey('', new URLSearchParams('code=q'))).toBeUndefined();
    expect(presentedKey(undefined, new URLSearchParams())).toBeUndefined();
  });

  it('authorizes by level', () => {
    expect(isAuthorized('anonymous', undefined, keys)).toBe(true);
    expect(isAuthorized('function', 'fk', keys)).toBe(true);
    expect(isAuthorized('function', 'mk', keys)).toBe(true);
    expect(isAuthorized('function', 'other', keys)).toBe(false);
    expect(isAuthorized('function', undefined, keys)).toBe(false);
    expect(isAuthorized('admin', 'fk', keys)).toBe(false);
    expect(isAuthorized('admin', 'mk', keys)).toBe(true);
  });

  it('with no keys configured, nothing but anonymous gets in', () => {
    expect(isAuthorized('function', '', { functionKeys: [''] })).toBe(false);
    expect(isAuthorized('admin', 'x', { functionKeys: [] })).toBe(false);
  });

  it('reads binding authLevel values', () => {
    expect(toAuthLevel(undefined)).toBe('anonymous');
    expect(toAuthLevel('Function')).toBe('function');
    expect(toAuthLevel('system')).toBe('admin');
    expect(() => toAuthLevel('everyone')).toThrow(/authLevel/);
  });
});
