import { AppInstallSpec, ChatMemberSpec, ChatType, CreateChatCommand } from './chat-rules';
import { OperationFate, OperationTimings, OperationView, operationStatusAt } from './operations';
import { SeededRandom } from './seeded-random';

/** The chats and async operations Teams holds: one-on-one chats deduplicated, group chats always new. */

export interface StoredChat {
  id: string;
  chatType: ChatType;
  topic: string | null;
  tenantId: string;
  webUrl: string;
  createdAtMs: number;
  lastUpdatedAtMs: number;
  members: ChatMemberSpec[];
  installedAppIds: string[];
  /** The simulator request (seq in the request log) whose POST made this chat. */
  createdByRequestSeq: number;
  /** The async operation that made it, when it came from a 202. */
  createdByOperationId?: string;
}

export interface StoredOperation {
  id: string;
  chatId: string;
  createdAtMs: number;
  lastActionAtMs: number;
  polls: number;
  fate: OperationFate;
  lastStatus: string;
  requestSeq: number;
  command: CreateChatCommand;
  app: AppInstallSpec;
}

export interface ChatStoreSnapshot {
  chats: StoredChat[];
  operations: StoredOperation[];
  chatsCreated: number;
  chatIdsPosition: number;
  operationIdsPosition: number;
}

export function oneOnOneChatId(userIdA: string, userIdB: string): string {
  const [first, second] = [userIdA.toLowerCase(), userIdB.toLowerCase()].sort();
  return `19:${first}_${second}@unq.gbl.spaces`;
}

export class ChatStore {
  private readonly chats = new Map<string, StoredChat>();
  private readonly byUser = new Map<string, StoredChat[]>();
  private readonly ops = new Map<string, StoredOperation>();
  chatsCreated = 0;

  constructor(
    private readonly tenantId: string,
    private readonly chatIds: SeededRandom,
    private readonly operationIds: SeededRandom,
  ) {}

  reset(): void {
    this.chats.clear();
    this.byUser.clear();
    this.ops.clear();
    this.chatsCreated = 0;
  }

  get(chatId: string): StoredChat | undefined {
    return this.chats.get(chatId);
  }

  all(): StoredChat[] {
    return [...this.chats.values()];
  }

  operations(): StoredOperation[] {
    return [...this.ops.values()];
  }

  operation(opId: string): StoredOperation | undefined {
    return this.ops.get(opId);
  }

  /** Chats a user is a member of, oldest first. */
  chatsOf(userId: string): StoredChat[] {
    return this.byUser.get(userId.toLowerCase()) ?? [];
  }

  /** The 201 path: a one-on-one chat that exists comes back unchanged (created: false). */
  create(command: CreateChatCommand, requestSeq: number, now: number): { chat: StoredChat; created: boolean } {
    const id = this.plannedId(command);
    const existing = this.chats.get(id);
    if (existing) return { chat: existing, created: false };
    return { chat: this.materialise(id, command, requestSeq, now), created: true };
  }

  /** The 202 path: the chat id is fixed now, the chat appears when the operation succeeds. */
  startOperation(
    command: CreateChatCommand & { app: AppInstallSpec },
    requestSeq: number,
    now: number,
    fate: OperationFate,
  ) {
    const chatId = this.plannedId(command);
    const operation: StoredOperation = {
      id: `${this.operationIds.guid()}-${this.operationIds.guid()}-${this.operationIds.guid()}`,
      chatId,
      createdAtMs: now,
      lastActionAtMs: now,
      polls: 0,
      fate,
      lastStatus: 'notStarted',
      requestSeq,
      command,
      app: command.app,
    };
    this.ops.set(operation.id, operation);
    // A vanished operation still made its chat; only the record of the operation is gone.
    if (fate.kind === 'vanish') this.complete(operation, now);
    return operation;
  }

  setFate(opId: string, fate: OperationFate, now: number): StoredOperation | undefined {
    const operation = this.ops.get(opId);
    if (!operation) return undefined;
    operation.fate = fate;
    if (fate.kind === 'vanish') this.complete(operation, now);
    return operation;
  }

  /** One GET of the operation: advances it and makes the chat when it first reads succeeded. */
  poll(
    chatId: string,
    opId: string,
    now: number,
    timings: OperationTimings,
  ): { operation: StoredOperation; view: OperationView } | undefined {
    const operation = this.ops.get(opId);
    if (!operation || operation.chatId !== chatId) return undefined;
    const view = operationStatusAt(operation.polls, timings, operation.fate);
    operation.polls += 1;
    if (view.kind === 'status' && view.status !== operation.lastStatus) {
      operation.lastStatus = view.status;
      operation.lastActionAtMs = now;
      if (view.status === 'succeeded') this.complete(operation, now);
    }
    return { operation, view };
  }

  /** Everything the store holds, as plain data (the local run saves it across restarts). */
  snapshot(): ChatStoreSnapshot {
    return {
      chats: this.all(),
      operations: this.operations(),
      chatsCreated: this.chatsCreated,
      chatIdsPosition: this.chatIds.position,
      operationIdsPosition: this.operationIds.position,
    };
  }

  /** Replaces the contents with a snapshot; id streams continue where they stood, so no id is made twice. */
  restore(snapshot: ChatStoreSnapshot): void {
    this.reset();
    for (const chat of snapshot.chats) {
      this.chats.set(chat.id, chat);
      for (const member of chat.members) {
        const key = member.userId.toLowerCase();
        this.byUser.set(key, [...(this.byUser.get(key) ?? []), chat]);
      }
    }
    for (const operation of snapshot.operations) this.ops.set(operation.id, operation);
    this.chatsCreated = snapshot.chatsCreated;
    this.chatIds.position = snapshot.chatIdsPosition;
    this.operationIds.position = snapshot.operationIdsPosition;
  }

  private complete(operation: StoredOperation, now: number): void {
    const existing = this.chats.get(operation.chatId);
    if (existing) {
      if (!existing.installedAppIds.includes(operation.app.teamsAppId))
        existing.installedAppIds.push(operation.app.teamsAppId);
      return;
    }
    const chat = this.materialise(operation.chatId, operation.command, operation.requestSeq, now);
    chat.createdByOperationId = operation.id;
  }

  private plannedId(command: CreateChatCommand): string {
    if (command.chatType === 'oneOnOne') {
      const [a, b] = command.members;
      return oneOnOneChatId(a?.userId ?? '', b?.userId ?? '');
    }
    return `19:${this.chatIds.hex(32)}@thread.v2`;
  }

  private materialise(id: string, command: CreateChatCommand, requestSeq: number, now: number): StoredChat {
    const chat: StoredChat = {
      id,
      chatType: command.chatType,
      topic: command.topic,
      tenantId: this.tenantId,
      webUrl: `https://teams.microsoft.com/l/chat/${encodeURIComponent(id)}/0?tenantId=${this.tenantId}`,
      createdAtMs: now,
      lastUpdatedAtMs: now,
      members: command.members.map((m) => ({ ...m, roles: [...m.roles] })),
      installedAppIds: command.app ? [command.app.teamsAppId] : [],
      createdByRequestSeq: requestSeq,
    };
    this.chats.set(id, chat);
    for (const member of chat.members) {
      const key = member.userId.toLowerCase();
      const list = this.byUser.get(key);
      if (list) list.push(chat);
      else this.byUser.set(key, [chat]);
    }
    this.chatsCreated += 1;
    return chat;
  }
}
