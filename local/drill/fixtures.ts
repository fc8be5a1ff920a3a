import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ApiClient } from '../api-client';
import type { LocalStackInfo } from '../stack';
import type { Random } from './random';

const MiB = 1024 * 1024;
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The customer's endpoints the drill moves files between (registered and validated once). */
export interface DrillEndpoints {
  partnerOut: string;
  partnerIn: string;
  partnerArchive: string;
  outbox: string;
  inbox: string;
}

export type FlowName = 'SFTP→S3' | 'S3→SFTP' | 'SFTP→SFTP' | 'S3→S3 multipart' | 'small-file batch';
export const FLOWS: FlowName[] = ['SFTP→S3', 'S3→SFTP', 'SFTP→SFTP', 'S3→S3 multipart', 'small-file batch'];

/** Where one file must end up, and what it must hold. */
export interface Destination {
  kind: 's3' | 'sftp';
  /** s3: bucket/key; sftp: the path under the partner's root on this machine. */
  bucket?: string;
  location: string;
  size: number;
  sha256: string;
}

/** One transfer request of a round: what to POST, and the files it must deliver. */
export interface RoundTransfer {
  flow: FlowName;
  body: { source: { endpointId: string; path: string }; target: { endpointId: string; path: string } };
  destinations: Destination[];
}

/** Registers and validates the endpoints over the API, as the walkthrough does (local/walkthrough.ts). */
export async function onboard(api: ApiClient, info: LocalStackInfo): Promise<DrillEndpoints> {
  const partner = info.partnerSftp;
  const privateKey = await readFile(partner.privateKeyPath, 'utf8');
  for (const dir of ['outbound', 'inbound', 'archive']) await mkdir(join(partner.root, dir), { recursive: true });
  const create = async (body: Record<string, unknown>) => {
    const created = await api.post('/endpoints', body);
    if (created.status !== 201) throw new Error(`drill: could not create endpoint: ${created.text}`);
    const validated = await api.post(`/endpoints/${created.body.id}/validate`);
    if (validated.body?.endpoint?.status !== 'ACTIVE')
      throw new Error(`drill: endpoint ${body.name} is not ACTIVE: ${validated.text}`);
    return created.body.id as string;
  };
  const sftp = (name: string, basePath: string) =>
    create({
      type: 'SFTP',
      name,
      direction: 'BOTH',
      sftp: {
        host: partner.host,
        port: partner.port,
        username: partner.username,
        basePath,
        hostKeyFingerprint: partner.hostKeyFingerprint,
      },
      credentials: { privateKey },
    });
  const s3 = (name: string, bucket: string, prefix: string, direction: string) =>
    create({ type: 'S3', name, direction, s3: { bucket, prefix, region: 'us-gov-west-1' } });
  return {
    partnerOut: await sftp('drill partner outbound', '/outbound'),
    partnerIn: await sftp('drill partner inbound', '/inbound'),
    partnerArchive: await sftp('drill partner archive', '/archive'),
    outbox: await s3('drill customer outbox', 'customer-a-outbox', 'out/', 'OUTBOUND'),
    inbox: await s3('drill customer inbox', 'customer-a-inbox', 'in/', 'INBOUND'),
  };
}

export interface FileSizes {
  /** Each streamed flow's file (SFTP→S3, S3→SFTP, SFTP→SFTP). */
  streamedBytes: number;
  /** The S3→S3 object (parts of 5 MiB: more than one part needs more than 5 MiB). */
  multipartBytes: number;
  smallFiles: number;
}

export const DEFAULT_SIZES: FileSizes = { streamedBytes: 24 * MiB, multipartBytes: 16 * MiB, smallFiles: 20 };

/**
 * Puts a round's source files in place (partner files straight into the SFTP server's root, objects
 * through S3) and returns the transfers of every flow, each with the destinations it must fill.
 */
export async function prepareRound(
  round: string,
  endpoints: DrillEndpoints,
  info: LocalStackInfo,
  s3: S3Client,
  random: Random,
  sizes: FileSizes = DEFAULT_SIZES,
): Promise<RoundTransfer[]> {
  const root = info.partnerSftp.root;
  const folder = `drill/${round}`;
  const outbound = join(root, 'outbound', folder);
  await mkdir(join(outbound, 'small'), { recursive: true });
  const file = async (name: string, size: number) => {
    const data = random.bytes(size);
    await writeFile(join(outbound, name), data);
    return data;
  };
  const object = async (name: string, size: number) => {
    const data = random.bytes(size);
    await s3.send(new PutObjectCommand({ Bucket: 'customer-a-outbox', Key: `out/${folder}/${name}`, Body: data }));
    return data;
  };
  const toS3 = (key: string, data: Buffer): Destination => ({
    kind: 's3',
    bucket: 'customer-a-inbox',
    location: `in/${folder}/${key}`,
    size: data.length,
    sha256: sha256(data),
  });
  const toSftp = (dir: string, name: string, data: Buffer): Destination => ({
    kind: 'sftp',
    location: join(root, dir, folder, name),
    size: data.length,
    sha256: sha256(data),
  });
  const a = await file('a.bin', sizes.streamedBytes);
  const b = await object('b.bin', sizes.streamedBytes);
  const c = await file('c.bin', sizes.streamedBytes);
  const d = await object('d.bin', sizes.multipartBytes);
  const small: Array<[string, Buffer]> = [];
  for (let i = 0; i < sizes.smallFiles; i++) small.push([`part-${i}.dat`, await file(`small/part-${i}.dat`, 1024 + i)]);
  const transfer = (flow: FlowName, source: [string, string], target: [string, string], destinations: Destination[]) => ({
    flow,
    body: { source: { endpointId: source[0], path: source[1] }, target: { endpointId: target[0], path: target[1] } },
    destinations,
  });
  return [
    transfer('SFTP→S3', [endpoints.partnerOut, `${folder}/a.bin`], [endpoints.inbox, `${folder}/a.bin`], [toS3('a.bin', a)]),
    transfer(
      'S3→SFTP',
      [endpoints.outbox, `${folder}/b.bin`],
      [endpoints.partnerIn, `${folder}/b.bin`],
      [toSftp('inbound', 'b.bin', b)],
    ),
    transfer(
      'SFTP→SFTP',
      [endpoints.partnerOut, `${folder}/c.bin`],
      [endpoints.partnerArchive, `${folder}/c.bin`],
      [toSftp('archive', 'c.bin', c)],
    ),
    transfer('S3→S3 multipart', [endpoints.outbox, `${folder}/d.bin`], [endpoints.inbox, `${folder}/d.bin`], [toS3('d.bin', d)]),
    transfer(
      'small-file batch',
      [endpoints.partnerOut, `${folder}/small/`],
      [endpoints.inbox, `${folder}/small`],
      small.map(([name, data]) => toS3(`small/${name}`, data)),
    ),
  ];
}
