// chat-provisioner on Azure: `azd up` provisions this, then deploys the code to the `api` service.
// Subscription scope (as in Azure-Samples/functions-quickstart-typescript-azd): it creates the
// resource group, then everything else inside it through the modules in ./app.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource; must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

// ---- Microsoft Graph -------------------------------------------------------------------------

@description('managedIdentity: the app\'s user-assigned identity holds the Graph app roles (no secret). secret: an app registration and its client secret in Key Vault.')
@allowed([
  'managedIdentity'
  'secret'
])
param graphAuthMode string = 'managedIdentity'

@description('Tenant whose chats are created (secret mode). Managed identity mode always uses this subscription\'s tenant.')
param graphTenantId string = ''

@description('Application (client) id of the Graph app registration; required in secret mode, ignored otherwise.')
param graphClientId string = ''

@secure()
@description('Client secret of that app registration (secret mode). Stored in Key Vault, never in an app setting. Empty: keep the secret already in the vault.')
param graphClientSecret string = ''

@description('Starting (and highest) Graph write rate of the shared AIMD limiter, requests per second (GRAPH_MAX_RPS).')
param graphMaxRps string = '20'

@description('How long 403/404 answers for a new hire stay retryable (NEW_USER_GRACE_MINUTES); 0: not at all.')
@minValue(0)
@maxValue(10080)
param newUserGraceMinutes int = 240

@description('How long an async Graph operation may stay pending before the request fails (OPERATION_DEADLINE_MINUTES).')
param operationDeadlineMinutes int = 30

@description('NCRONTAB schedule of the poller (POLL_SCHEDULE).')
param pollSchedule string = '*/5 * * * * *'

// ---- Webhooks and callbacks --------------------------------------------------------------------

@description('Comma-separated hosts callbacks may go to, e.g. hooks.contoso.com,*.fabrikam.com (CALLBACK_ALLOWED_HOSTS).')
param callbackAllowedHosts string = ''

@secure()
@description('Standard Webhooks secret (whsec_...) required on inbound POSTs; empty: not required. Stored in Key Vault.')
param webhookSigningSecret string = ''

@secure()
@description('Standard Webhooks secret (whsec_...) used to sign callbacks; empty: unsigned. Stored in Key Vault.')
param callbackSigningSecret string = ''

// ---- Scale -------------------------------------------------------------------------------------

@minValue(1)
@maxValue(1000)
@description('Most instances per Flex scale group. With host.json queue concurrency this bounds concurrent Graph calls: see docs/deploy.md.')
param maximumInstanceCount int = 1

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex instance, MB.')
param instanceMemoryMB int = 2048

// ---- Access for the person (or pipeline) running azd -------------------------------------------

@description('Object id of the principal running azd (azd sets AZURE_PRINCIPAL_ID). Empty: no deployer roles.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Grant the deployer storage data roles (ops CLI) and Key Vault Secrets Officer (secret rotation).')
param grantDeployerAccess bool = true

@description('Client id of an Entra app registration for signing in to the ops page (/api/ui). Empty: no sign-in in front of the page, which then holds no data without a function key. docs/deploy.md, "The ops page".')
param opsPageClientId string = ''

// ---- Names -------------------------------------------------------------------------------------

// The code's defaults (shared/platform/config.ts DEFAULTS); the app settings name them explicitly anyway.
var chatRequestsQueueName = 'chat-requests'
var chatRequestsTableName = 'ChatRequests'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
// A managed identity only gets tokens from its own tenant.
var effectiveGraphTenantId = graphAuthMode == 'managedIdentity' || empty(graphTenantId) ? tenant().tenantId : graphTenantId
// Managed identity mode: the credential names the user-assigned identity by its client id.
var effectiveGraphClientId = graphAuthMode == 'secret' ? graphClientId : identity.outputs.clientId

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    queueName: chatRequestsQueueName
    tableName: chatRequestsTableName
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    graphAuthMode: graphAuthMode
    graphClientSecret: graphClientSecret
    webhookSigningSecret: webhookSigningSecret
    callbackSigningSecret: callbackSigningSecret
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    grantDeployerAccess: grantDeployerAccess
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  // Roles first, so the first start can read the package, storage and Key Vault references.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    chatRequestsQueueName: chatRequestsQueueName
    chatRequestsTableName: chatRequestsTableName
    graphTenantId: effectiveGraphTenantId
    graphClientId: effectiveGraphClientId
    graphClientSecretUri: keyVault.outputs.graphClientSecretUri
    webhookSigningSecretUri: keyVault.outputs.webhookSigningSecretUri
    callbackSigningSecretUri: keyVault.outputs.callbackSigningSecretUri
    graphMaxRps: graphMaxRps
    newUserGraceMinutes: newUserGraceMinutes
    operationDeadlineMinutes: operationDeadlineMinutes
    pollSchedule: pollSchedule
    callbackAllowedHosts: callbackAllowedHosts
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

// Entra sign-in in front of the ops page, when an app registration for it is given.
module opsAuth 'app/ops-auth.bicep' = if (!empty(opsPageClientId)) {
  name: 'ops-auth'
  scope: rg
  params: {
    siteName: api.outputs.name
    clientId: opsPageClientId
    tenantId: tenant().tenantId
    routePrefix: string(loadJsonContent('../host.json', '$.extensions.http.routePrefix'))
  }
}

output OPS_PAGE_URL string = '${api.outputs.apiBaseUrl}/ui'
// azd stores these in the environment (.azure/<env>/.env); none is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = api.outputs.defaultHostName
output AZURE_FUNCTION_API_BASE_URL string = api.outputs.apiBaseUrl
output API_IDENTITY_NAME string = identity.outputs.name
output API_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output API_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output API_GRAPH_AUTH_MODE string = graphAuthMode
output API_GRAPH_TENANT_ID string = effectiveGraphTenantId
output API_GRAPH_CLIENT_ID string = effectiveGraphClientId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_GRAPH_SECRET_NAME string = keyVault.outputs.graphClientSecretName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICE_API_NAME string = api.outputs.name
