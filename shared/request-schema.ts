/**
 * The old entry point of request parsing, kept so files not yet moved to `shared/request/` compile
 * unchanged. New code imports the module of the job it needs from `shared/request/`.
 */
export {
  appIdFromBind,
  bindForApp,
  bindForUser,
  GRAPH_HOSTS,
  GRAPH_ROOT,
  graphCloudHost,
  userFromBind,
} from './request/binds';
export { parseIsoDateTime } from './request/date-time';
export {
  type FieldError,
  MAX_APPS,
  MAX_CALLBACK_URL_LENGTH,
  MAX_EXTERNAL_ID_LENGTH,
  MAX_MEMBERS,
  MAX_MEMBERS_AT_CREATE,
  MAX_REPORTED_ERRORS,
  MAX_TOPIC_LENGTH,
  SERVICE_FIELDS,
  userRefProblem,
} from './request/fields';
export { payloadHash, stableStringify } from './request/hash';
export { parseProvisioningRequest } from './request/parse';
export { type ParsedRequest, type ParseOptions, parseOptionsFor, type ParseResult } from './request/parsed';
export {
  AppBindSchema,
  CallbackUrlSchema,
  ChatTypeSchema,
  CompactAppSchema,
  CompactMemberSchema,
  CompactRequestSchema,
  ExternalIdSchema,
  GraphInstalledAppSchema,
  GraphMemberSchema,
  GraphRequestSchema,
  NotBeforeSchema,
  PermissionTypeSchema,
  PermissionValueSchema,
  ProvisioningRequestSchema,
  RoleSchema,
  RscPermissionSchema,
  TeamsAppIdSchema,
  TenantIdSchema,
  TopicSchema,
  UserBindSchema,
  UserRefSchema,
  VisibleHistoryStartSchema,
} from './request/schemas';
