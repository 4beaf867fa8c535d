/**
 * Upstream route passwords (channels, mediator endpoints and default channels) are write-only:
 * admins see a mask, other users nothing, exports the mask; a mask sent back (PUT, metadata
 * import of an export) keeps the stored password, and is never stored itself.
 */
import type { Channel, Mediator, Route } from '../models.js';
import { PASSWORD_MASK } from '../validation.js';

type RouteLike = Pick<Route, 'name' | 'password'> & { _id?: string | undefined };

/** Routes as shown: the password masked (`admin`) or left out (anyone else). */
export function maskRoutes<R extends RouteLike>(routes: readonly R[], forAdmin: boolean): R[] {
  return routes.map((route) => {
    if (route.password === undefined) return route;
    const { password: _secret, ...rest } = route;
    return (forAdmin ? { ...rest, password: PASSWORD_MASK } : rest) as R;
  });
}

/** Incoming routes with each masked password replaced by the stored one of the same route (_id, else name). */
export function restoreRoutePasswords<R extends RouteLike>(incoming: readonly R[], stored: readonly RouteLike[] = []): R[] {
  return incoming.map((route) => {
    if (route.password !== PASSWORD_MASK) return route;
    const previous = stored.find((s) => (route._id && s._id === route._id) || s.name === route.name);
    const { password: _mask, ...rest } = route;
    return (previous?.password !== undefined && previous.password !== PASSWORD_MASK ? { ...rest, password: previous.password } : rest) as R;
  });
}

export function publicChannel(channel: Channel, forAdmin: boolean): Channel {
  return { ...channel, routes: maskRoutes(channel.routes, forAdmin) };
}

/** A channel about to be stored: masked passwords become the stored ones (or none). */
export function withStoredRoutePasswords(channel: Channel, stored: Channel | undefined): Channel {
  return { ...channel, routes: restoreRoutePasswords(channel.routes, stored?.routes) };
}

/** Route passwords in a mediator's endpoints and default channels, masked for admins. */
export function maskMediatorRoutes(m: Mediator): Mediator {
  return {
    ...m,
    endpoints: maskRoutes(m.endpoints ?? [], true),
    defaultChannelConfig: m.defaultChannelConfig.map((c) => ({ ...c, routes: maskRoutes(c.routes, true) })),
  };
}

/** A mediator about to be stored: masked route passwords become the stored ones (or none). */
export function withStoredMediatorPasswords<M extends Pick<Mediator, 'endpoints' | 'defaultChannelConfig'>>(m: M, stored: Mediator | undefined): M {
  return {
    ...m,
    endpoints: restoreRoutePasswords(m.endpoints ?? [], stored?.endpoints),
    defaultChannelConfig: m.defaultChannelConfig.map((c) => ({
      ...c,
      routes: restoreRoutePasswords(c.routes, stored?.defaultChannelConfig.find((s) => s.name === c.name)?.routes),
    })),
  };
}
