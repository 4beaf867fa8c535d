import type { FastifyInstance } from 'fastify';
import type { IolDeps } from '../deps.js';
import { conflict, forbidden, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { fromIdentityProvider, IDENTITY_PROVIDER_USER_FIELDS, userSchema, type User, type UserInput } from '../models.js';
import { hashPassword, legacyUserHash, tokenSalt } from '../passwords.js';
import { UserStore, type UserRow } from '../store/users.js';
import { parseBody } from '../validation.js';
import { isAdmin, userOf } from './auth.js';
import { auditChange } from './common.js';
import { welcomeNewUser } from './set-password.js';
import type { ScopedRoutes } from './scopes.js';

/**
 * The stored secrets for a user's new password (scrypt, plus the legacy hash when that scheme is
 * on, salted with the user's derived token salt). A hash and salt the client computed (OpenHIM's
 * console does) are kept as given.
 */
export async function userSecrets(
  deps: IolDeps,
  input: Pick<UserInput, 'password' | 'passwordHash' | 'passwordSalt' | 'passwordAlgorithm'>,
  email: string,
): Promise<Omit<UserRow, 'doc'> | undefined> {
  if (input.password) {
    const salt = tokenSalt(deps.tokenSaltKey, email);
    return {
      scryptHash: await hashPassword(input.password),
      legacySalt: deps.config.legacyTokenAuth ? salt : null,
      legacyHash: deps.config.legacyTokenAuth ? legacyUserHash(salt, input.password) : null,
    };
  }
  if (input.passwordHash && input.passwordSalt && (input.passwordAlgorithm ?? 'sha512') === 'sha512') {
    return { scryptHash: null, legacySalt: input.passwordSalt, legacyHash: input.passwordHash.toLowerCase() };
  }
  return undefined;
}

/**
 * Runs `change` (deleting or demoting `email`) in one transaction, refusing it (409) when it would leave no user
 * in the admin group: with none, the API could only be unlocked by a restart (ensureRootUser).
 */
async function keepingAnAdmin<T>(deps: IolDeps, email: string, change: (users: UserStore) => Promise<T>): Promise<T> {
  return deps.db.transaction(async (tx) => {
    const users = new UserStore(tx);
    const admins = await users.lockAdmins();
    if (admins.length === 1 && admins[0] === email.toLowerCase()) {
      throw conflict(`user ${email} is the last admin: add another user to the admin group first`);
    }
    return change(users);
  });
}

/** The configured root user (OPENHIM_ROOT_EMAIL), which the API never deletes, as OpenHIM. */
function isRoot(deps: IolDeps, email: string): boolean {
  return email.toLowerCase() === deps.config.rootEmail.toLowerCase();
}

function toUser(input: UserInput, id: string): User {
  const { password: _p, passwordHash: _h, passwordSalt: _s, passwordAlgorithm: _a, _id: _i, ...doc } = input;
  return { ...doc, _id: id };
}

/** Any user reads and changes their own user (not its groups or email); admins manage every user. */
export function userRoutes(deps: IolDeps): ScopedRoutes {
  return { user: (scope) => registerOwnUserRoutes(scope, deps), admin: (scope) => registerUserAdminRoutes(scope, deps) };
}

function registerOwnUserRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get<{ Params: { email: string } }>('/users/:email', { config: { userCheck: 'own-user' } }, async (request) => {
    const me = userOf(request);
    if (!isAdmin(me) && me.email.toLowerCase() !== request.params.email.toLowerCase()) throw forbidden(`User ${me.email} is not an admin, API access to getUser denied.`);
    const row = await deps.users.byEmail(request.params.email);
    if (!row) throw missing(`User with email ${request.params.email} could not be found.`);
    return row.doc;
  });

  app.put<{ Params: { email: string } }>('/users/:email', { config: { userCheck: 'own-user' } }, async (request) => {
    const me = userOf(request);
    const admin = isAdmin(me);
    if (!admin && me.email.toLowerCase() !== request.params.email.toLowerCase()) throw forbidden(`User ${me.email} is not an admin, API access to updateUser denied.`);
    const row = await deps.users.byEmail(request.params.email);
    if (!row) throw missing(`User with email ${request.params.email} could not be found.`);
    // As OpenHIM's updateUser, fields are left as they are, not refused: a non-admin's own update
    // keeps its groups whatever it sends, and a user from an identity provider takes only
    // contact and settings fields (its name, email, groups and password are the provider's).
    const body = (request.body ?? {}) as Record<string, unknown>;
    const { groups: _asked, ...allowed } = body;
    const external = fromIdentityProvider(row.doc);
    const given = external ? Object.fromEntries(IDENTITY_PROVIDER_USER_FIELDS.filter((f) => f in body).map((f) => [f, body[f]])) : admin ? body : allowed;
    // A provider stored before providers were checked (any name then) is an identity provider's: openid.
    const stored = external && row.doc.provider !== 'openid' ? { ...row.doc, provider: 'openid' } : row.doc;
    const input = parseBody(userSchema, { ...stored, ...given }, 'user');
    // Root stays root: renamed it could be deleted, demoted it could be locked out (OpenHIM only
    // refuses its deletion, which a rename got around).
    if (isRoot(deps, row.doc.email)) {
      if (input.email.toLowerCase() !== row.doc.email.toLowerCase()) throw forbidden(`User ${deps.config.rootEmail} is OpenHIM root: its email cannot be changed`);
      if (!input.groups.includes('admin')) throw forbidden(`User ${deps.config.rootEmail} is OpenHIM root: it stays in the admin group`);
    }
    if (input.email.toLowerCase() !== row.doc.email.toLowerCase()) {
      if (!admin) throw forbidden('only an admin may change an email');
      if (await deps.users.byEmail(input.email)) throw conflict(`a user with email ${input.email} already exists`);
    }
    const secrets = external ? undefined : await userSecrets(deps, body as UserInput, input.email);
    // A password set by an admin (or the user) unlocks a user created without one.
    const { locked: _locked, ...unlocked } = { ...toUser(input, row.doc._id), locked: row.doc.locked };
    const user: User = secrets || !row.doc.locked ? unlocked : { ...unlocked, locked: true };
    if (isAdmin(row.doc) && !isAdmin(user)) await keepingAnAdmin(deps, row.doc.email, (users) => users.update(user, secrets));
    else await deps.users.update(user, secrets);
    if (secrets) deps.verified.clear();
    auditChange(deps, request, 'U', `User/${user._id}`);
    return user;
  });
}

function registerUserAdminRoutes(app: FastifyInstance, deps: IolDeps): void {
  app.get('/users', async () => deps.users.list());

  app.post('/users', async (request, reply) => {
    // As OpenHIM's user model (email lowercase: true): the email is stored in lower case.
    const given = parseBody(userSchema, request.body, 'user');
    // As OpenHIM's addUser, a user given a password is a local one (a hash: the legacy token scheme's), whatever provider it names.
    const provider = given.password ? 'local' : given.passwordHash || given.passwordSalt || given.passwordAlgorithm ? 'token' : given.provider;
    const input = { ...given, email: given.email.toLowerCase(), ...(provider ? { provider } : {}) };
    if (await deps.users.byEmail(input.email)) throw conflict(`a user with email ${input.email} already exists`);
    const secrets = await userSecrets(deps, input, input.email);
    // Without a password the user is locked until they set one by the e-mailed link (OpenHIM's
    // addUser); a user of an identity provider logs in there, so has no link to use (OpenHIM mails one).
    const awaitsPassword = !secrets && !fromIdentityProvider(input);
    const user = { ...toUser(input, newObjectId()), ...(awaitsPassword ? { locked: true } : {}) };
    await deps.users.insert(user, secrets ?? { scryptHash: null, legacySalt: null, legacyHash: null });
    if (awaitsPassword) welcomeNewUser(deps, user);
    auditChange(deps, request, 'C', `User/${user._id}`);
    reply.code(201);
    return user;
  });

  app.delete<{ Params: { email: string } }>('/users/:email', async (request) => {
    const { email } = request.params;
    if (isRoot(deps, email)) throw forbidden(`User ${deps.config.rootEmail} is OpenHIM root, User cannot be deleted through the API`);
    if (!(await keepingAnAdmin(deps, email, (users) => users.delete(email)))) throw missing(`User with email ${email} could not be found.`);
    deps.verified.clear();
    auditChange(deps, request, 'D', `User/${request.params.email}`);
    return { result: `user ${request.params.email} deleted` };
  });
}
