/**
 * /visualizers (admins), as OpenHIM's api/visualizers.js: the OpenHIM console's visualizer
 * settings, with OpenHIM's model and defaults (model/visualizer.js). Each list and string is
 * bounded here (unknown fields are dropped, as OpenHIM's mongoose model drops them), the whole body by the API's body limit, the number stored by OPENHIM_MAX_VISUALIZERS.
 */
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, notFound, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { VisualizerStore, type Visualizer } from '../store/visualizers.js';
import { parseBody } from '../validation.js';
import { auditChange } from './common.js';
import { checkStorable } from './query-filters.js';
import type { ScopedRoutes } from './scopes.js';

/** Event types a visualizer shows (OpenHIM's model/events.js eventTypes). */
const EVENT_TYPES = ['channel', 'primary', 'route', 'orchestration'] as const;
const text = z.string().max(1000);
const LIST_MAX = 500;
const eventLink = z.object({ eventType: z.enum(EVENT_TYPES).optional(), eventName: text.optional(), display: text.optional() });
const mediatorLink = z.object({ mediator: text.optional(), name: text.optional(), display: text.optional() });
const colour = z.string().max(100);
const number = z.number().finite().min(0).max(1_000_000);

const visualizerSchema = z
  .object({
    name: z.string().min(1).max(200),
    components: z.array(eventLink).max(LIST_MAX).default([]),
    channels: z.array(eventLink).max(LIST_MAX).default([]),
    mediators: z.array(mediatorLink).max(LIST_MAX).default([]),
    color: z
      .object({ inactive: colour.default('#cccccc'), active: colour.default('#4cae4c'), error: colour.default('#d43f3a'), text: colour.default('#000000') })
      .default({}),
    size: z
      .object({ responsive: z.boolean().default(true), width: number.default(1000), height: number.default(400), padding: number.default(20) })
      .default({}),
    time: z
      .object({ updatePeriod: number.default(200), minDisplayPeriod: number.default(500), maxSpeed: number.default(5), maxTimeout: number.default(5000) })
      .default({}),
  });

/** The body without `_id` and `__v` (as OpenHIM: a client cannot choose or change the id). */
function withoutIds(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const { _id: _i, __v: _v, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** No body sent (OpenHIM answers it 404 "no request object", as its visualizersAPITests read). */
function noBody(body: unknown): boolean {
  return body === undefined || body === null || body === '';
}

function checkId(id: string): void {
  if (id.length > 200) throw notFound(`visualizer ${JSON.stringify(id.slice(0, 40))}`);
  checkStorable(id, 'visualizerId');
}

export function visualizerRoutes(deps: IolDeps): ScopedRoutes {
  const store = new VisualizerStore(deps.db);
  return {
    admin(app) {
      app.get('/visualizers', () => store.list());

      app.get<{ Params: { id: string } }>('/visualizers/:id', async (request) => {
        checkId(request.params.id);
        const found = await store.byId(request.params.id);
        if (!found) throw missing(`Visualizer with _id ${request.params.id} could not be found.`);
        return found;
      });

      app.post('/visualizers', async (request, reply) => {
        if (noBody(request.body)) throw missing('Cannot Add Visualizer, no request object');
        const input = parseBody(visualizerSchema, withoutIds(request.body), 'visualizer');
        checkStorable(input, 'visualizer');
        if ((await store.count()) >= deps.config.limits.maxVisualizers) {
          throw badRequest(`there are ${deps.config.limits.maxVisualizers} visualizers already (OPENHIM_MAX_VISUALIZERS)`, 'delete one first');
        }
        const visualizer: Visualizer = { _id: newObjectId(), ...input };
        await store.insert(visualizer);
        auditChange(deps, request, 'C', `Visualizer/${visualizer._id}`);
        reply.code(201);
        return visualizer;
      });

      // As OpenHIM's findByIdAndUpdate: the fields given replace the stored ones.
      app.put<{ Params: { id: string } }>('/visualizers/:id', async (request) => {
        checkId(request.params.id);
        if (noBody(request.body)) throw missing(`Cannot Update Visualizer with _id ${request.params.id}, no request object`);
        const stored = await store.byId(request.params.id);
        if (!stored) throw missing(`Cannot Update Visualizer with _id ${request.params.id}, does not exist`);
        const given = withoutIds(request.body);
        if (!given || typeof given !== 'object' || Array.isArray(given)) throw badRequest('a visualizer update is a JSON object');
        const input = parseBody(visualizerSchema, { ...(withoutIds(stored) as object), ...given }, 'visualizer');
        checkStorable(input, 'visualizer');
        const visualizer: Visualizer = { _id: stored._id, ...input };
        if (!(await store.update(visualizer))) throw missing(`Cannot Update Visualizer with _id ${request.params.id}, does not exist`);
        auditChange(deps, request, 'U', `Visualizer/${visualizer._id}`);
        return visualizer;
      });

      app.delete<{ Params: { id: string } }>('/visualizers/:id', async (request) => {
        checkId(request.params.id);
        if (!(await store.delete(request.params.id))) throw missing(`Could not find visualizer with _id ${request.params.id}`);
        auditChange(deps, request, 'D', `Visualizer/${request.params.id}`);
        return { result: `visualizer ${request.params.id} deleted` };
      });
    },
  };
}
