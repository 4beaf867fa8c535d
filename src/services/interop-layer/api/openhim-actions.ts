/**
 * What OpenHIM calls each admin route when it refuses a user who is not an admin: its 403 says
 * "User <email> is not an admin, API access to <name> denied." with the name its handler uses
 * (OpenHIM v8.5 src/api/*.js, copy-paste slips included: deleting a role says updateRole, a
 * mediator's heartbeat removeMediator), so a client or test reading OpenHIM's text reads ours.
 * A name ending in "." is OpenHIM's whole tail (verifyServerKeys says no "denied").
 */
export const OPENHIM_ACTIONS: Readonly<Record<string, string>> = {
  'GET /authentication/types': 'get enabled authentication types',
  'GET /users': 'getUsers',
  'POST /users': 'addUser',
  'DELETE /users/:email': 'removeUser',
  'GET /clients': 'getClients',
  'GET /clients/domain/:domain': 'findClientByDomain',
  'POST /clients': 'addClient',
  'GET /clients/:clientId': 'findClientById',
  'PUT /clients/:clientId': 'updateClient',
  'DELETE /clients/:clientId': 'removeClient',
  'GET /roles': 'getRoles',
  'GET /roles/:name': 'getRole',
  'POST /roles': 'addRole',
  'PUT /roles/:name': 'updateRole',
  'DELETE /roles/:name': 'updateRole',
  'POST /channels': 'addChannel',
  'PUT /channels/:id': 'updateChannel',
  'DELETE /channels/:id': 'removeChannel',
  'GET /channels/:id/audits': 'addChannel',
  'POST /channels/:id/trigger': 'removeChannel',
  'GET /mediators': 'getAllMediators',
  'GET /mediators/:urn': 'getMediator',
  'POST /mediators': 'addMediator',
  'DELETE /mediators/:urn': 'removeMediator',
  'POST /mediators/:urn/heartbeat': 'removeMediator',
  'PUT /mediators/:urn/config': 'removeMediator',
  'POST /mediators/:urn/channels': 'removeMediator',
  'POST /transactions': 'addTransaction',
  'PUT /transactions/:id': 'updateTransaction',
  'DELETE /transactions/:id': 'removeTransaction',
  'DELETE /tasks/:taskId': 'removeTask',
  'GET /logs': 'getLogs',
  'GET /groups': 'getContactGroups',
  'POST /groups': 'addContactGroup',
  'GET /groups/:id': 'getContactGroup',
  'PUT /groups/:id': 'updateContactGroup',
  'DELETE /groups/:id': 'removeContactGroup',
  'GET /keystore/cert': 'getServerCert',
  'POST /keystore/cert': 'setServerCert by id',
  'POST /keystore/key': 'getServerKey by id',
  'POST /keystore/passphrase': 'setServerPassphrase',
  'GET /keystore/validity': 'verifyServerKeys.',
  'GET /keystore/ca': 'getCACerts',
  'GET /keystore/ca/:certId': 'getCACert by id',
  'POST /keystore/ca/cert': 'addTrustedCert by id',
  'DELETE /keystore/ca/:certId': 'removeCACert by id',
  'POST /certificates': 'getServerKey by id',
  'POST /restart': 'restart the server',
  'GET /metadata': 'getMetadata',
  'POST /metadata': 'importMetadata',
  'POST /metadata/validate': 'importMetadata',
  'GET /events/:receivedTime': 'events',
  'GET /visualizers': 'getVisualizers',
  'GET /visualizers/:id': 'getVisualizer',
  'POST /visualizers': 'addVisualizer',
  'PUT /visualizers/:id': 'updateVisualizer',
  'DELETE /visualizers/:id': 'removeVisualizer',
  'GET /audits': 'getAudits',
  'GET /audits/:id': 'getAuditById',
  'GET /audits-filter-options': 'getAudits',
  'POST /audits': 'addAudit',
};

/** OpenHIM's 403 text for a user who is not an admin; undefined for a route OpenHIM does not have. */
export function notAdminMessage(email: string, method: string, url: string | undefined, declared?: string): string | undefined {
  const name = declared ?? OPENHIM_ACTIONS[`${method === 'HEAD' ? 'GET' : method} ${url ?? ''}`];
  if (!name) return undefined;
  return `User ${email} is not an admin, API access to ${name}${name.endsWith('.') ? '' : ' denied.'}`;
}
