/** The mediator SDK (@instant-openhie/mediator-sdk): what our own mediators (and anyone's) use to work with the interop layer. */
export { MediatorClient, MediatorApiError, type MediatorClientOptions } from './client.js';
export { MediatorResponseBuilder, MEDIATOR_CONTENT_TYPE } from './response.js';
export type * from './types.js';
