/** Storage of channels, clients, mediators and contact groups: the OpenHIM document in jsonb. */
import type { Queryable } from '../../../db/database.js';
import type { Channel, Client, ClientSecrets, Mediator } from '../models.js';
import type { ChannelPatch } from '../channel-patches.js';
import { storableJson } from './storable.js';

export class ChannelStore {
  constructor(private readonly db: Queryable) {}

  /** In the order they were made (ObjectIds begin with their time), as OpenHIM lists them and breaks priority ties. */
  async list(includeDeleted = false): Promise<Channel[]> {
    const r = await this.db.query<{ doc: Channel }>(
      `SELECT doc FROM iol.channels ${includeDeleted ? '' : `WHERE doc->>'status' <> 'deleted'`} ORDER BY id`,
    );
    return r.rows.map((x) => x.doc);
  }

  async byId(id: string): Promise<Channel | undefined> {
    const r = await this.db.query<{ doc: Channel }>('SELECT doc FROM iol.channels WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async byName(name: string): Promise<Channel | undefined> {
    const r = await this.db.query<{ doc: Channel }>('SELECT doc FROM iol.channels WHERE name = $1', [name]);
    return r.rows[0]?.doc;
  }

  async insert(channel: Channel): Promise<void> {
    await this.db.query('INSERT INTO iol.channels (id, name, doc) VALUES ($1, $2, $3::jsonb)', [
      channel._id,
      channel.name,
      JSON.stringify(channel),
    ]);
  }

  async update(channel: Channel): Promise<void> {
    await this.db.query('UPDATE iol.channels SET name = $2, doc = $3::jsonb, updated_at = now() WHERE id = $1', [
      channel._id,
      channel.name,
      JSON.stringify(channel),
    ]);
  }

  /** Removes the channel and its audit trail (OpenHIM drops a removed channel's patches). */
  async delete(id: string): Promise<boolean> {
    await this.db.query('DELETE FROM iol.channel_audits WHERE channel_id = $1', [id]);
    return (await this.db.query('DELETE FROM iol.channels WHERE id = $1', [id])).rowCount > 0;
  }

  async recordPatch(patch: ChannelPatch): Promise<void> {
    await this.db.query('INSERT INTO iol.channel_audits (id, channel_id, recorded, doc) VALUES ($1, $2, $3, $4::jsonb)', [
      patch._id,
      patch.ref,
      patch.date,
      storableJson(patch),
    ]);
  }

  /** The channel's changes, newest first. */
  async patches(id: string): Promise<ChannelPatch[]> {
    const r = await this.db.query<{ doc: ChannelPatch }>('SELECT doc FROM iol.channel_audits WHERE channel_id = $1 ORDER BY recorded DESC, id DESC', [id]);
    return r.rows.map((x) => x.doc);
  }
}

export interface ClientRow {
  doc: Client;
  secrets: ClientSecrets;
}

export class ClientStore {
  constructor(private readonly db: Queryable) {}

  async listWithSecrets(): Promise<ClientRow[]> {
    const r = await this.db.query<ClientRow>('SELECT doc, secrets FROM iol.clients ORDER BY client_id');
    return r.rows;
  }

  async list(): Promise<Client[]> {
    return (await this.listWithSecrets()).map((r) => r.doc);
  }

  /** By _id or by clientID, as OpenHIM's routes accept both. */
  async find(idOrClientId: string): Promise<ClientRow | undefined> {
    const r = await this.db.query<ClientRow>('SELECT doc, secrets FROM iol.clients WHERE id = $1 OR client_id = $1 LIMIT 1', [
      idOrClientId,
    ]);
    return r.rows[0];
  }

  /** Another client holding this custom token (its hash), if any. */
  async holderOfToken(tokenHash: string, exceptId?: string): Promise<string | undefined> {
    const r = await this.db.query<{ client_id: string }>(`SELECT client_id FROM iol.clients WHERE secrets->>'customTokenHash' = $1 AND id IS DISTINCT FROM $2 LIMIT 1`, [tokenHash, exceptId ?? null]);
    return r.rows[0]?.client_id;
  }

  /** The first client (by clientID) of a domain, as OpenHIM's GET /clients/domain/:domain. */
  async byDomain(domain: string): Promise<ClientRow | undefined> {
    const r = await this.db.query<ClientRow>(`SELECT doc, secrets FROM iol.clients WHERE doc->>'clientDomain' = $1 ORDER BY client_id LIMIT 1`, [domain]);
    return r.rows[0];
  }

  async insert(row: ClientRow): Promise<void> {
    await this.db.query('INSERT INTO iol.clients (id, client_id, doc, secrets) VALUES ($1, $2, $3::jsonb, $4::jsonb)', [
      row.doc._id,
      row.doc.clientID,
      JSON.stringify(row.doc),
      JSON.stringify(row.secrets),
    ]);
  }

  async update(row: ClientRow): Promise<void> {
    await this.db.query(
      'UPDATE iol.clients SET client_id = $2, doc = $3::jsonb, secrets = $4::jsonb, updated_at = now() WHERE id = $1',
      [row.doc._id, row.doc.clientID, JSON.stringify(row.doc), JSON.stringify(row.secrets)],
    );
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.clients WHERE id = $1', [id])).rowCount > 0;
  }
}

export class MediatorStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<Mediator[]> {
    const r = await this.db.query<{ doc: Mediator }>('SELECT doc FROM iol.mediators ORDER BY urn');
    return r.rows.map((x) => x.doc);
  }

  async byUrn(urn: string): Promise<Mediator | undefined> {
    const r = await this.db.query<{ doc: Mediator }>('SELECT doc FROM iol.mediators WHERE urn = $1', [urn]);
    return r.rows[0]?.doc;
  }

  /** Sets _uptime and _lastHeartbeat alone; the mediator as it is now and its heartbeat before this one. */
  async recordHeartbeat(urn: string, uptime: number, at: string): Promise<{ mediator: Mediator; previous: string | undefined } | undefined> {
    const r = await this.db.query<{ doc: Mediator; previous: string | null }>(
      `UPDATE iol.mediators m SET doc = m.doc || jsonb_build_object('_uptime', $2::double precision, '_lastHeartbeat', $3::text), updated_at = now()
         FROM (SELECT urn, doc->>'_lastHeartbeat' AS previous FROM iol.mediators WHERE urn = $1 FOR UPDATE) p
        WHERE m.urn = p.urn
        RETURNING m.doc, p.previous`,
      [urn, uptime, at],
    );
    const row = r.rows[0];
    return row ? { mediator: row.doc, previous: row.previous ?? undefined } : undefined;
  }

  async upsert(mediator: Mediator): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.mediators (urn, doc) VALUES ($1, $2::jsonb)
       ON CONFLICT (urn) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()`,
      [mediator.urn, JSON.stringify(mediator)],
    );
  }

  async delete(urn: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.mediators WHERE urn = $1', [urn])).rowCount > 0;
  }
}

export interface ContactGroup {
  _id: string;
  group: string;
  users: Array<{ user: string; method: string; maxAlerts?: string }>;
}

export class ContactGroupStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<ContactGroup[]> {
    return (await this.db.query<{ doc: ContactGroup }>('SELECT doc FROM iol.contact_groups ORDER BY grp')).rows.map((r) => r.doc);
  }

  async find(idOrName: string): Promise<ContactGroup | undefined> {
    const r = await this.db.query<{ doc: ContactGroup }>('SELECT doc FROM iol.contact_groups WHERE id = $1 OR grp = $1', [idOrName]);
    return r.rows[0]?.doc;
  }

  async upsert(group: ContactGroup): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.contact_groups (id, grp, doc) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (id) DO UPDATE SET grp = EXCLUDED.grp, doc = EXCLUDED.doc`,
      [group._id, group.group, JSON.stringify(group)],
    );
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM iol.contact_groups WHERE id = $1', [id])).rowCount > 0;
  }
}
