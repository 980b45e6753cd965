// Key Vault (RBAC mode, purge protection) holding the service's secrets. The app reads them only
// through Key Vault references resolved with the user-assigned identity; nothing secret is an app
// setting value or a deployment output.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('managedIdentity: no Graph secret. secret: GRAPH_CLIENT_SECRET is a Key Vault reference.')
@allowed([
  'managedIdentity'
  'secret'
])
param graphAuthMode string

@secure()
@description('Graph client secret; stored as a new secret version when given. Empty: keep what the vault holds.')
param graphClientSecret string = ''

@secure()
@description('Standard Webhooks secret (whsec_...) for inbound POSTs. Empty: signatures not required.')
param webhookSigningSecret string = ''

@secure()
@description('Standard Webhooks secret (whsec_...) used to sign callbacks. Empty: callbacks unsigned.')
param callbackSigningSecret string = ''

@minValue(7)
@maxValue(90)
@description('Days a deleted vault or secret stays recoverable (and its name reserved).')
param softDeleteRetentionInDays int = 7

var graphClientSecretName = 'graph-client-secret'
var webhookSigningSecretName = 'webhook-signing-secret'
var callbackSigningSecretName = 'callback-signing-secret'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource graphSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (graphAuthMode == 'secret' && !empty(graphClientSecret)) {
  parent: vault
  name: graphClientSecretName
  properties: {
    value: graphClientSecret
    contentType: 'text/plain'
  }
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSigningSecret)) {
  parent: vault
  name: webhookSigningSecretName
  properties: {
    value: webhookSigningSecret
    contentType: 'text/plain'
  }
}

resource callbackSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(callbackSigningSecret)) {
  parent: vault
  name: callbackSigningSecretName
  properties: {
    value: callbackSigningSecret
    contentType: 'text/plain'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
// Version-less secret URIs (the app follows the latest version); '' when the app must not reference one.
// The Graph secret is referenced in secret mode even when not given now: it may be set or rotated in the vault.
output graphClientSecretUri string = graphAuthMode == 'secret' ? '${vault.properties.vaultUri}secrets/${graphClientSecretName}' : ''
output webhookSigningSecretUri string = empty(webhookSigningSecret) ? '' : '${vault.properties.vaultUri}secrets/${webhookSigningSecretName}'
output callbackSigningSecretUri string = empty(callbackSigningSecret) ? '' : '${vault.properties.vaultUri}secrets/${callbackSigningSecretName}'
output graphClientSecretName string = graphClientSecretName
