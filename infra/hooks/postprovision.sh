#!/bin/sh
# azd postprovision hook: prints the one step azd cannot do for you, granting the Microsoft Graph
# application permissions (admin consent), filled in with this environment's ids. It calls nothing
# and prints no secret. The same commands, explained, are in docs/deploy.md.
set -eu

mode="${API_GRAPH_AUTH_MODE:-managedIdentity}"
principal="${API_IDENTITY_PRINCIPAL_ID:-<API_IDENTITY_PRINCIPAL_ID>}"
identity="${API_IDENTITY_NAME:-<identity>}"
client="${API_GRAPH_CLIENT_ID:-}"
tenant="${API_GRAPH_TENANT_ID:-${AZURE_TENANT_ID:-<tenant>}}"
vault="${AZURE_KEY_VAULT_NAME:-<key vault>}"
secret_name="${AZURE_KEY_VAULT_GRAPH_SECRET_NAME:-graph-client-secret}"
app="${AZURE_FUNCTION_APP_NAME:-<function app>}"
group="${AZURE_RESOURCE_GROUP:-<resource group>}"
api="${AZURE_FUNCTION_API_BASE_URL:-https://<function app>.azurewebsites.net/api}"

fill() {
  sed -e "s|__PRINCIPAL__|$principal|g" -e "s|__CLIENT__|$client|g" -e "s|__TENANT__|$tenant|g" \
    -e "s|__VAULT__|$vault|g" -e "s|__SECRET_NAME__|$secret_name|g"
}

echo
echo "== chat-provisioner: Microsoft Graph permissions (once per tenant, by a Privileged Role Administrator or Global Administrator)"
echo "   Application permissions: Chat.Create (POST /chats), Chat.ReadBasic.All (poll async operations, list a user's chats)"
echo "   and User.ReadBasic.All (read a member's object id by UPN, to recognise a chat made by an attempt whose answer was lost)."

if [ "$mode" = "managedIdentity" ]; then
  if [ -n "${GRAPH_TENANT_ID:-}" ] && [ "${GRAPH_TENANT_ID}" != "$tenant" ]; then
    echo "   WARNING: GRAPH_TENANT_ID=${GRAPH_TENANT_ID} is ignored: a managed identity only gets tokens in its own tenant ($tenant)."
  fi
  echo "   Mode managedIdentity: grant the app roles to the identity $identity (no secret exists). In a shell signed in to tenant $tenant:"
  fill <<'CMDS'

  az login --tenant __TENANT__ --allow-no-subscriptions
  GRAPH_SP_ID=$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv)
  for PERMISSION in Chat.Create Chat.ReadBasic.All User.ReadBasic.All; do
    APP_ROLE_ID=$(az ad sp show --id 00000003-0000-0000-c000-000000000000 \
      --query "appRoles[?value=='$PERMISSION' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
    az rest --method POST \
      --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$GRAPH_SP_ID/appRoleAssignedTo" \
      --headers "Content-Type=application/json" \
      --body "{\"principalId\":\"__PRINCIPAL__\",\"resourceId\":\"$GRAPH_SP_ID\",\"appRoleId\":\"$APP_ROLE_ID\"}"
  done

CMDS
else
  if [ -z "$client" ]; then
    echo "   ERROR: GRAPH_AUTH_MODE=secret but GRAPH_CLIENT_ID is empty: run 'azd env set GRAPH_CLIENT_ID <app id>' and 'azd provision'."
  fi
  echo "   Mode secret: add the permissions to the app registration __CLIENT__ and consent, in a shell signed in to tenant $tenant:" | fill
  fill <<'CMDS'

  az login --tenant __TENANT__ --allow-no-subscriptions
  for PERMISSION in Chat.Create Chat.ReadBasic.All User.ReadBasic.All; do
    APP_ROLE_ID=$(az ad sp show --id 00000003-0000-0000-c000-000000000000 \
      --query "appRoles[?value=='$PERMISSION' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
    az ad app permission add --id __CLIENT__ --api 00000003-0000-0000-c000-000000000000 --api-permissions "$APP_ROLE_ID=Role"
  done
  az ad app permission admin-consent --id __CLIENT__

   If the vault has no client secret yet (you did not set GRAPH_CLIENT_SECRET), create one straight into it
   (the value is never printed; if Graph's tenant is not the vault's, see docs/deploy.md), then restart the
   app so the Key Vault reference resolves:

  az keyvault secret set --vault-name __VAULT__ --name __SECRET_NAME__ --output none \
    --value "$(az ad app credential reset --id __CLIENT__ --append --display-name chat-provisioner --years 1 --query password -o tsv)"
CMDS
  echo "  az functionapp restart --name $app --resource-group $group"
  echo
fi

echo "== Check it: curl -sS $api/health"
echo "   With the function key: KEY=\$(az functionapp keys list --name $app --resource-group $group --query functionKeys.default -o tsv)"
echo "                          curl -sS -H \"x-functions-key: \$KEY\" \"$api/requests?top=1\""
echo "   Details: docs/deploy.md"
echo
