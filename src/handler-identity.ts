import * as crypto from 'crypto';
import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Upstream v4's singleton uuid; keeping it means no replacement for apps that switch packages. */
export const UPSTREAM_UUID = 'bd07c930-edb9-4112-a20f-03f096f53666';

export interface HandlerShape {
  /** Upstream's options: the memory is in its uuid, the others were silently shared. */
  readonly memoryLimit: number;
  readonly upstreamOptions: { [key: string]: unknown };
  /** Options upstream does not have; any non-default value gives another function. */
  readonly extraOptions: { [key: string]: unknown };
}

// Per stack: which full shape claimed each uuid first.
const claimed = new WeakMap<Stack, Map<string, string>>();

function digest(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

function definedEntries(o: { [key: string]: unknown }): { [key: string]: unknown } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The singleton uuid for a handler shape.
 *
 * - With only upstream options, the uuid is upstream's (`UUID-<memory>MiB`), so an app that
 *   switches from upstream keeps its function.
 * - Options upstream lacks add a hash of their values.
 * - Upstream let two deployments with different role/VPC settings share the first one's function.
 *   Here the first keeps upstream's uuid and a differently shaped one gets its own function.
 */
export function singletonUuid(scope: IConstruct, shape: HandlerShape): string {
  const stack = Stack.of(scope);
  const extra = definedEntries(shape.extraOptions);
  let uuid = `${UPSTREAM_UUID}-${shape.memoryLimit}MiB`;
  if (Object.keys(extra).length > 0) {
    uuid += `-${digest(stack.resolve(extra))}`;
  }
  const full = digest(stack.resolve({ ...definedEntries(shape.upstreamOptions), ...extra }));
  let byUuid = claimed.get(stack);
  if (!byUuid) {
    byUuid = new Map();
    claimed.set(stack, byUuid);
  }
  const owner = byUuid.get(uuid);
  if (owner === undefined) {
    byUuid.set(uuid, full);
    return uuid;
  }
  return owner === full ? uuid : `${uuid}-${full}`;
}
