import { AppCatalog, checkCreateChat, CreateChatCommand } from '../../dev/simulator/chat-rules';
import { ChatStore, oneOnOneChatId } from '../../dev/simulator/chat-store';
import { Directory } from '../../dev/simulator/directory';
import {
  DEFAULT_OPERATION_TIMINGS,
  OperationFate,
  operationStatusAt,
  parseOperationFate,
  visibleEnumValue,
} from '../../dev/simulator/operations';
import { SeededRandom } from '../../dev/simulator/seeded-random';

const statuses = (fate: OperationFate, polls: number, timings = DEFAULT_OPERATION_TIMINGS) =>
  Array.from({ length: polls }, (_, i) => {
    const view = operationStatusAt(i, timings, fate);
    return view.kind === 'vanished' ? 'vanished' : view.status;
  });

describe('operationStatusAt', () => {
  it('moves notStarted → inProgress → succeeded with the default timings', () => {
    expect(statuses({ kind: 'succeed' }, 4)).toEqual(['notStarted', 'inProgress', 'succeeded', 'succeeded']);
  });

  it('follows configured timings', () => {
    expect(statuses({ kind: 'succeed' }, 3, { inProgressAfterPolls: 0, succeededAfterPolls: 1 })).toEqual([
      'inProgress',
      'succeeded',
      'succeeded',
    ]);
    expect(statuses({ kind: 'succeed' }, 1, { inProgressAfterPolls: 0, succeededAfterPolls: 0 })).toEqual([
      'succeeded',
    ]);
  });

  it('ends as the fate says', () => {
    expect(statuses({ kind: 'failed', error: { code: 'x', message: 'y' } }, 3)).toEqual([
      'notStarted',
      'inProgress',
      'failed',
    ]);
    expect(statuses({ kind: 'stall' }, 5)).toEqual([
      'notStarted',
      'inProgress',
      'inProgress',
      'inProgress',
      'inProgress',
    ]);
    expect(statuses({ kind: 'vanish' }, 2)).toEqual(['vanished', 'vanished']);
    expect(statuses({ kind: 'invalid' }, 3)[2]).toBe('invalid');
    expect(statuses({ kind: 'unknownFutureValue', futureValue: 'deferred' }, 3)[2]).toBe('deferred');
  });
});

describe('visibleEnumValue', () => {
  it('hides evolvable members behind unknownFutureValue unless the caller opted in', () => {
    expect(visibleEnumValue('createChat', 'operationType', false)).toBe('unknownFutureValue');
    expect(visibleEnumValue('createChat', 'operationType', true)).toBe('createChat');
    expect(visibleEnumValue('deferred', 'status', false)).toBe('unknownFutureValue');
    expect(visibleEnumValue('deferred', 'status', true)).toBe('deferred');
    expect(visibleEnumValue('succeeded', 'status', false)).toBe('succeeded');
  });
});

describe('parseOperationFate', () => {
  it('reads names and objects, and refuses unknown fates', () => {
    expect(parseOperationFate('stall')).toEqual({ kind: 'stall' });
    expect(parseOperationFate({ fate: 'failed', error: { code: 'Conflict', message: 'no' } })).toEqual({
      kind: 'failed',
      error: { code: 'Conflict', message: 'no' },
    });
    expect(() => parseOperationFate('explode')).toThrow(/unknown fate/);
  });
});

describe('ChatStore', () => {
  const directory = new Directory({ homeTenantId: 'tid', newHireReplicationMs: 0 });
  const command = (body: unknown): CreateChatCommand => {
    const result = checkCreateChat(body, directory, new AppCatalog(), 0);
    if (!result.ok) throw new Error(result.violation.message);
    return result.command;
  };
  const m = (ref: string) => ({
    '@odata.type': '#microsoft.graph.aadUserConversationMember',
    roles: ['owner'],
    'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${ref}')`,
  });
  const oneOnOne = () => command({ chatType: 'oneOnOne', members: [m('jacob@contoso.com'), m('alex@contoso.com')] });
  const group = () => command({ chatType: 'group', members: [m('jacob@contoso.com'), m('alex@contoso.com')] });

  it('dedupes one-on-one chats by their sorted member ids', () => {
    const store = new ChatStore('tid', new SeededRandom(1), new SeededRandom(2));
    const first = store.create(oneOnOne(), 1, 0);
    const second = store.create(oneOnOne(), 2, 5);
    expect(first.created).toBe(true);
    expect(second).toEqual({ chat: first.chat, created: false });
    expect(first.chat.id).toBe(
      oneOnOneChatId('8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', '82fe7758-5bb3-4f0d-a43f-e555fd399c6f'),
    );
    expect(store.chatsCreated).toBe(1);
  });

  it('makes a new group chat every time, ids from the seed', () => {
    const a = new ChatStore('tid', new SeededRandom(7), new SeededRandom(2));
    const b = new ChatStore('tid', new SeededRandom(7), new SeededRandom(2));
    const ids = [a.create(group(), 1, 0).chat.id, a.create(group(), 2, 0).chat.id];
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).toMatch(/^19:[0-9a-f]{32}@thread\.v2$/);
    expect(b.create(group(), 1, 0).chat.id).toBe(ids[0]);
    expect(a.chatsOf('82fe7758-5bb3-4f0d-a43f-e555fd399c6f')).toHaveLength(2);
  });

  it('makes the chat of an operation when a poll first reads succeeded, and not for a failure', () => {
    const store = new ChatStore('tid', new SeededRandom(1), new SeededRandom(2));
    const app = { teamsAppId: 'app', resourceSpecificPermissions: [] };
    const ok = store.startOperation({ ...group(), app }, 1, 0, { kind: 'succeed' });
    const failed = store.startOperation({ ...group(), app }, 2, 0, {
      kind: 'failed',
      error: { code: 'c', message: 'm' },
    });
    for (let i = 0; i < 3; i += 1) {
      store.poll(ok.chatId, ok.id, i, DEFAULT_OPERATION_TIMINGS);
      store.poll(failed.chatId, failed.id, i, DEFAULT_OPERATION_TIMINGS);
    }
    expect(store.get(ok.chatId)?.createdByOperationId).toBe(ok.id);
    expect(store.get(failed.chatId)).toBeUndefined();
    expect(store.poll('19:other@thread.v2', ok.id, 9, DEFAULT_OPERATION_TIMINGS)).toBeUndefined();
  });

  it('makes the chat at once for a vanished operation', () => {
    const store = new ChatStore('tid', new SeededRandom(1), new SeededRandom(2));
    const op = store.startOperation(
      { ...oneOnOne(), app: { teamsAppId: 'app', resourceSpecificPermissions: [] } },
      1,
      0,
      { kind: 'vanish' },
    );
    expect(store.get(op.chatId)?.installedAppIds).toEqual(['app']);
  });
});
