import { ChatListing, ChatSummary, GraphAnswer, GraphChats, UserIdLookup } from '../../shared/graph/graph-client';
import { GraphCreateChatBody } from '../../shared/core/model';

/** A scripted fake of the GraphChats port for unit tests (integration tests use the simulator). */
export class ScriptedGraph implements GraphChats {
  readonly posts: GraphCreateChatBody[] = [];
  readonly lookups: { user: string; since: Date }[] = [];
  readonly userLookups: string[] = [];
  createAnswers: GraphAnswer[] = [];
  operationAnswers: GraphAnswer[] = [];
  chats: ChatSummary[] = [];

  async createChat(body: GraphCreateChatBody): Promise<GraphAnswer> {
    this.posts.push(body);
    return this.createAnswers.shift() ?? created(`19:${this.posts.length}@thread.v2`);
  }
  async getOperation(): Promise<GraphAnswer> {
    return this.operationAnswers.shift() ?? response(200, { status: 'inProgress' });
  }
  async getChat(chatId: string): Promise<GraphAnswer> {
    const chat = this.chats.find((c) => c.id === chatId);
    return chat ? response(200, chat) : response(404, { error: { code: 'NotFound', message: 'no chat' } });
  }
  async listUserChats(user: string, since: Date): Promise<ChatListing> {
    this.lookups.push({ user, since });
    return { ok: true, chats: this.chats, complete: true, filterRefused: false };
  }
  /** Every UPN is a user whose object id is `oid-<upn>`, unless a test replaces this. */
  async getUserId(user: string): Promise<UserIdLookup> {
    this.userLookups.push(user);
    return { ok: true, id: `oid-${user.toLowerCase()}` };
  }
  resolveLocation(location: string): string {
    return `https://graph.test/beta${location}`;
  }
}

export function response(status: number, body?: unknown, headers: Record<string, string> = {}): GraphAnswer {
  return { kind: 'response', status, body, headers: { requestId: `req-${status}`, ...headers } };
}

export function created(id: string): GraphAnswer {
  return response(201, { id, chatType: 'group', webUrl: `https://teams.test/${id}` });
}
