# azd postprovision hook (Windows): prints the one step azd cannot do for you, granting the Microsoft
# Graph application permissions (admin consent), filled in with this environment's ids, as Microsoft
# Graph PowerShell commands. It calls nothing and prints no secret. docs/deploy.md has the Azure CLI form.
$ErrorActionPreference = 'Stop'

$mode = if ($env:API_GRAPH_AUTH_MODE) { $env:API_GRAPH_AUTH_MODE } else { 'managedIdentity' }
$tenant = if ($env:API_GRAPH_TENANT_ID) { $env:API_GRAPH_TENANT_ID } else { $env:AZURE_TENANT_ID }
$principal = $env:API_IDENTITY_PRINCIPAL_ID
$client = $env:API_GRAPH_CLIENT_ID
$api = $env:AZURE_FUNCTION_API_BASE_URL

Write-Host ''
Write-Host '== chat-provisioner: Microsoft Graph permissions (once per tenant, by a Privileged Role Administrator or Global Administrator)'
Write-Host '   Application permissions: Chat.Create (POST /chats), Chat.ReadBasic.All (poll async operations, list a user''s chats)'
Write-Host '   and User.ReadBasic.All (read a member''s object id by UPN, to recognise a chat made by an attempt whose answer was lost).'

if ($mode -eq 'managedIdentity') {
  if ($env:GRAPH_TENANT_ID -and $env:GRAPH_TENANT_ID -ne $tenant) {
    Write-Host "   WARNING: GRAPH_TENANT_ID=$($env:GRAPH_TENANT_ID) is ignored: a managed identity only gets tokens in its own tenant ($tenant)."
  }
  Write-Host "   Mode managedIdentity: grant the app roles to the identity $($env:API_IDENTITY_NAME) (no secret exists):"
  $target = "'$principal'"
} else {
  if (-not $client) {
    Write-Host '   ERROR: GRAPH_AUTH_MODE=secret but GRAPH_CLIENT_ID is empty: azd env set GRAPH_CLIENT_ID <app id>; azd provision'
  }
  Write-Host "   Mode secret: grant the app roles to the service principal of the app registration $client"
  Write-Host '   (this is the admin consent; also add them to the registration''s API permissions so the portal shows them):'
  $target = "(Get-MgServicePrincipal -Filter `"appId eq '$client'`").Id"
}

Write-Host @"

  Connect-MgGraph -TenantId '$tenant' -Scopes 'Application.Read.All','AppRoleAssignment.ReadWrite.All'
  `$graph = Get-MgServicePrincipal -Filter "appId eq '00000003-0000-0000-c000-000000000000'"
  `$principalId = $target
  foreach (`$permission in 'Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All') {
    `$role = `$graph.AppRoles | Where-Object { `$_.Value -eq `$permission -and `$_.AllowedMemberTypes -contains 'Application' }
    New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId `$principalId -PrincipalId `$principalId -ResourceId `$graph.Id -AppRoleId `$role.Id
  }

"@

if ($mode -ne 'managedIdentity') {
  Write-Host "   No client secret in the vault yet? See 'Rotate the Graph client secret' in docs/deploy.md."
}
Write-Host "== Check it: curl.exe -sS $api/health"
Write-Host '   Details: docs/deploy.md'
Write-Host ''
