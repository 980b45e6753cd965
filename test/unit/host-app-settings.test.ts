import {
  applySettings,
  isSettingTrue,
  parseLocalSettings,
  resolveBindingExpression,
  settingsToApply,
} from '../../dev/host/app-settings';
import { storageConnectionString } from '../../dev/host/queue-connections';

describe('local.settings.json', () => {
  it('reads Values as strings and Host.LocalHttpPort', () => {
    expect(
      parseLocalSettings({
        IsEncrypted: false,
        Values: { A: 'x', N: 3, B: true, Z: null },
        Host: { LocalHttpPort: 7072 },
      }),
    ).toEqual({
      values: { A: 'x', N: '3', B: 'true' },
      localHttpPort: 7072,
    });
  });

  it('refuses encrypted settings and bad ports', () => {
    expect(() => parseLocalSettings({ IsEncrypted: true, Values: {} })).toThrow(/encrypted/);
    expect(() => parseLocalSettings({ Host: { LocalHttpPort: 'abc' } })).toThrow(/LocalHttpPort/);
  });
});

describe('settings precedence', () => {
  it('keeps what the environment has, then the first layer that sets a key', () => {
    const toApply = settingsToApply({ SHELL: 'shell' }, [
      { SHELL: 'option', OPTION: 'option' },
      { SHELL: 'file', OPTION: 'file', FILE: 'file' },
    ]);
    expect(toApply).toEqual({ OPTION: 'option', FILE: 'file' });
  });

  it('takes back exactly what it added', () => {
    // Prepare
    const env: Record<string, string | undefined> = { KEEP: 'k' };
    // Act
    const restore = applySettings(env, { ADDED: 'a', KEEP: 'ignored' });
    const during = { ...env };
    restore();
    // Assess
    expect(during).toEqual({ KEEP: 'k', ADDED: 'a' });
    expect(env).toEqual({ KEEP: 'k' });
  });
});

describe('binding expressions', () => {
  it('resolves %NAME% from settings and names a missing one', () => {
    expect(resolveBindingExpression('%QUEUE%', { QUEUE: 'chat-requests' })).toBe('chat-requests');
    expect(resolveBindingExpression('%QUEUE%-poison', { QUEUE: 'q' })).toBe('q-poison');
    expect(resolveBindingExpression('0 */5 * * * *', {})).toBe('0 */5 * * * *');
    expect(() => resolveBindingExpression('%MISSING%', {})).toThrow(/MISSING/);
  });

  it('reads boolean settings like the host', () => {
    expect([
      isSettingTrue('true'),
      isSettingTrue('1'),
      isSettingTrue('True '),
      isSettingTrue('no'),
      isSettingTrue(undefined),
    ]).toEqual([true, true, true, false, false]);
  });
});

describe('queue connections', () => {
  it('looks up AzureWebJobs<name>, then <name>, defaulting to AzureWebJobsStorage', () => {
    expect(storageConnectionString(undefined, { AzureWebJobsStorage: 'cs-default' })).toBe('cs-default');
    expect(storageConnectionString('Other', { AzureWebJobsOther: 'prefixed', Other: 'plain' })).toBe('prefixed');
    expect(storageConnectionString('Other', { Other: 'plain' })).toBe('plain');
  });

  it('names the missing setting, and refuses identity-based connections', () => {
    expect(() => storageConnectionString(undefined, {})).toThrow(/'AzureWebJobsStorage' does not exist/);
    expect(() =>
      storageConnectionString('Jobs', { Jobs__queueServiceUri: 'https://x.queue.core.windows.net' }),
    ).toThrow(/identity-based/);
  });
});
