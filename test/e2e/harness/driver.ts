// Turns a real `cdk synth` of an example app into CloudFormation custom-resource events, sends
// them to the handler through the RIE, and collects what the handler PUT to the ResponseURL.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ECR_ACCOUNT, ECR_REGION } from './pki';
import { REPO_ROOT, rmTree, run, tempDir } from './proc';
import { CfnResponse, Receiver } from './receiver';
import { Rie } from './rie';

export const RESOURCE_TYPE = 'Custom::CDKECRDeployment';

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': ECR_ACCOUNT,
  'AWS::Region': ECR_REGION,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
};

export interface SynthResource {
  stackName: string;
  logicalId: string;
  /** ResourceProperties with every intrinsic resolved, ServiceToken included. */
  properties: Record<string, any>;
}

/** Synthesizes examples/<app>.ts with the given context and returns its ECR deployment resources. */
export async function synthExample(app: string, context: Record<string, unknown>): Promise<SynthResource[]> {
  return synthWith(path.join(REPO_ROOT, 'node_modules', '.bin', 'ts-node'),
    ['--transpile-only', '--project', path.join(REPO_ROOT, 'tsconfig.dev.json'), path.join(REPO_ROOT, 'examples', `${app}.ts`)],
    context, `examples/${app}.ts`);
}

/**
 * Synthesizes the seed's Python quickstart, exactly as written, with the built wheel in a venv
 * made by test/python/make_venv.sh.
 */
export async function synthPythonQuickstart(context: Record<string, unknown> = {}): Promise<SynthResource[]> {
  const venv = (await run('bash', [path.join(REPO_ROOT, 'test', 'python', 'make_venv.sh')], { cwd: REPO_ROOT, env: process.env }))
    .trim().split('\n').pop()!;
  return synthWith(path.join(venv, 'bin', 'python'), [path.join(REPO_ROOT, 'test', 'python', 'synth_app.py')], context, 'the Python quickstart');
}

/** Runs a CDK app (any language) into a scratch cloud assembly and returns its deployments, resolved. */
async function synthWith(cmd: string, args: string[], context: Record<string, unknown>, what: string): Promise<SynthResource[]> {
  const out = tempDir('synth');
  try {
    await run(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify(context) } });
    const resources: SynthResource[] = [];
    for (const f of fs.readdirSync(out).filter(n => n.endsWith('.template.json'))) {
      const stackName = f.replace(/\.template\.json$/, '');
      const template = JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
      for (const [logicalId, r] of Object.entries<any>(template.Resources ?? {})) {
        if (r.Type === RESOURCE_TYPE) {
          resources.push({ stackName, logicalId, properties: resolve(r.Properties ?? {}, template) });
        }
      }
    }
    if (resources.length === 0) throw new Error(`${what} synthesized no ${RESOURCE_TYPE}`);
    return resources;
  } finally {
    rmTree(out);
  }
}

/** Resolves the intrinsics a synthesized ECRDeployment uses, as CloudFormation would in the test account. */
export function resolve(value: any, template: any): any {
  if (Array.isArray(value)) return value.map(v => resolve(v, template));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [k] = keys;
    const arg = value[k];
    switch (k) {
      case 'Ref': {
        if (arg in PSEUDO) return PSEUDO[arg];
        const res = template.Resources?.[arg];
        if (!res) throw new Error(`Ref to unknown resource ${arg}`);
        return refOf(arg, res);
      }
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        const res = template.Resources?.[id];
        if (!res) throw new Error(`Fn::GetAtt of unknown resource ${id}`);
        return getAtt(id, res, attr);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg;
        return resolve(parts, template).join(sep);
      }
      case 'Fn::Select': {
        const [i, list] = arg;
        return resolve(list, template)[Number(resolve(i, template))];
      }
      case 'Fn::Split': {
        const [sep, s] = arg;
        return String(resolve(s, template)).split(sep);
      }
      case 'Fn::Sub':
        throw new Error('Fn::Sub is not expected in an ECRDeployment template');
      default:
        break;
    }
  }
  return Object.fromEntries(keys.map(k => [k, resolve(value[k], template)]));
}

function refOf(id: string, res: any): string {
  switch (res.Type) {
    case 'AWS::ECR::Repository': return res.Properties?.RepositoryName ?? id.toLowerCase();
    case 'AWS::Lambda::Function': return res.Properties?.FunctionName ?? id;
    default: return id;
  }
}

function getAtt(id: string, res: any, attr: string): string {
  const p = 'aws';
  switch (`${res.Type}.${attr}`) {
    case 'AWS::ECR::Repository.Arn': return `arn:${p}:ecr:${ECR_REGION}:${ECR_ACCOUNT}:repository/${refOf(id, res)}`;
    case 'AWS::ECR::Repository.RepositoryUri': return `${ECR_ACCOUNT}.dkr.ecr.${ECR_REGION}.amazonaws.com/${refOf(id, res)}`;
    case 'AWS::Lambda::Function.Arn': return `arn:${p}:lambda:${ECR_REGION}:${ECR_ACCOUNT}:function:${refOf(id, res)}`;
    case 'AWS::IAM::Role.Arn': return `arn:${p}:iam::${ECR_ACCOUNT}:role/${id}`;
    default: throw new Error(`cannot resolve Fn::GetAtt ${id}.${attr} (${res.Type})`);
  }
}

export type RequestType = 'Create' | 'Update' | 'Delete';

export interface Outcome {
  event: Record<string, any>;
  response: CfnResponse;
  /** Seconds from sending the event to the response arriving at the ResponseURL. */
  seconds: number;
  invoke: { status: number; body: string };
}

/** What CloudFormation remembers of an Update that failed, for UPDATE_ROLLBACK. */
export interface FailedUpdate {
  /** The properties the failed Update asked for (OldResourceProperties of the rollback Update). */
  properties: Record<string, any>;
  /** The id the resource had before the failed Update (PhysicalResourceId of the rollback Update). */
  priorId?: string;
  /** The id the FAILED response carried; when it differs from priorId, CloudFormation deletes it in clean-up. */
  responseId?: string;
}

/** An id CloudFormation will delete during UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, with the properties it had. */
export interface PendingCleanup {
  physicalResourceId: string;
  properties: Record<string, any>;
}

/**
 * One custom resource through its lifecycle, as CloudFormation would drive it:
 * - Create: a SUCCESS or FAILED response sets the id (a FAILED one is what the rollback Delete gets).
 * - Update: PhysicalResourceId is the current id, OldResourceProperties the current properties.
 *   SUCCESS: the response's id and the new properties become current; when the id changed, the
 *   old id with the old properties is queued for the clean-up Delete (`pendingCleanup`). FAILED:
 *   id and properties stay; the failed Update is remembered for `rollbackUpdate()`.
 * - Delete: the current id and properties (stack delete, or rollback after a failed Create);
 *   `cleanupDelete()` sends one for an old id with old properties.
 */
export class CustomResource {
  public physicalResourceId?: string;
  /** Set by a successful Update that changed the id; cleared by `cleanupDelete()` of that id. */
  public pendingCleanup?: PendingCleanup;
  /** Set by a FAILED Update; cleared by `rollbackUpdate()`. */
  public failedUpdate?: FailedUpdate;
  private current: Record<string, any>;
  private readonly stackId: string;

  constructor(private readonly rie: Rie, private readonly receiver: Receiver, private readonly resource: SynthResource) {
    this.current = resource.properties;
    this.stackId = `arn:aws:cloudformation:${ECR_REGION}:${ECR_ACCOUNT}:stack/${resource.stackName}/${crypto.randomUUID()}`;
  }

  get properties(): Record<string, any> { return this.current; }

  get logicalId(): string { return this.resource.logicalId; }

  async create(): Promise<Outcome> {
    const out = await this.send('Create', this.current);
    // CloudFormation keeps the id of a failed create for the rollback Delete.
    this.physicalResourceId = out.response.PhysicalResourceId;
    return out;
  }

  async update(newProperties: Record<string, any>): Promise<Outcome> {
    const priorId = this.physicalResourceId;
    const old = this.current;
    const out = await this.send('Update', newProperties, old, priorId);
    if (out.response.Status === 'SUCCESS') {
      this.physicalResourceId = out.response.PhysicalResourceId;
      this.current = newProperties;
      this.failedUpdate = undefined;
      if (priorId !== undefined && out.response.PhysicalResourceId !== priorId) {
        this.pendingCleanup = { physicalResourceId: priorId, properties: old };
      }
    } else {
      // UPDATE_FAILED: the resource keeps the id and properties it had.
      this.failedUpdate = { properties: newProperties, priorId, responseId: out.response.PhysicalResourceId };
    }
    return out;
  }

  /**
   * UPDATE_ROLLBACK_IN_PROGRESS after a FAILED Update: an Update back to the properties the
   * resource had (ResourceProperties = old, OldResourceProperties = the failed new ones,
   * PhysicalResourceId = the id from before the failed Update). When the FAILED response carried
   * another id, that id (with the failed properties) is queued for the clean-up Delete.
   */
  async rollbackUpdate(): Promise<Outcome> {
    const failed = this.failedUpdate;
    if (!failed) throw new Error('rollbackUpdate() without a failed Update');
    this.failedUpdate = undefined;
    const out = await this.send('Update', this.current, failed.properties, failed.priorId);
    if (out.response.Status === 'SUCCESS') this.physicalResourceId = out.response.PhysicalResourceId;
    if (failed.responseId && failed.responseId !== failed.priorId) {
      this.pendingCleanup = { physicalResourceId: failed.responseId, properties: failed.properties };
    }
    return out;
  }

  /** The stack delete (or the rollback Delete after a failed Create): the current id and properties. */
  delete(): Promise<Outcome> {
    return this.send('Delete', this.current, undefined, this.physicalResourceId);
  }

  /**
   * The clean-up Delete CloudFormation sends for an id the resource no longer has: by default the
   * one queued by the last Update (`pendingCleanup`), else the id and properties given.
   */
  async cleanupDelete(physicalResourceId?: string, properties?: Record<string, any>): Promise<Outcome> {
    const target = physicalResourceId !== undefined
      ? { physicalResourceId, properties: properties ?? this.current }
      : this.pendingCleanup;
    if (!target) throw new Error('cleanupDelete() with nothing queued and no id given');
    if (this.pendingCleanup?.physicalResourceId === target.physicalResourceId) this.pendingCleanup = undefined;
    return this.send('Delete', target.properties, undefined, target.physicalResourceId);
  }

  /** The Create event CloudFormation would send now (a new RequestId); `deliver` sends it, as often as asked. */
  createEvent(): Record<string, any> {
    return this.event('Create', this.current);
  }

  /**
   * Invokes the function with `event` (for example again, as Lambda retries an invocation whose
   * handler crashed) and waits for the response to its RequestId.
   */
  async deliver(event: Record<string, any>): Promise<Outcome> {
    const started = Date.now();
    // CloudFormation waits up to an hour; we wait the function timeout plus a margin, so a
    // handler that never answers fails the test instead of hanging it.
    const limitMs = (this.rie.timeoutSeconds + 30) * 1000;
    const responseP = this.receiver.waitFor(event.RequestId, limitMs).then(r => ({ r, at: Date.now() }));
    // An invocation that fails to start fails the delivery now, not when the wait runs out;
    // the wait is then dropped (its rejection is handled, so it cannot surface later).
    const invoke = await this.rie.invoke(event).catch(e => { responseP.catch(() => undefined); throw e; });
    const { r: response, at } = await responseP;
    return { event, response, seconds: (at - started) / 1000, invoke };
  }

  private event(type: RequestType, props: Record<string, any>, old?: Record<string, any>, physicalResourceId?: string): Record<string, any> {
    const requestId = crypto.randomUUID();
    const event: Record<string, any> = {
      RequestType: type,
      ServiceToken: props.ServiceToken,
      ResponseURL: this.receiver.responseUrl(requestId),
      StackId: this.stackId,
      RequestId: requestId,
      LogicalResourceId: this.resource.logicalId,
      ResourceType: RESOURCE_TYPE,
      ResourceProperties: props,
    };
    if (type !== 'Create') event.PhysicalResourceId = physicalResourceId;
    if (old) event.OldResourceProperties = old;
    return event;
  }

  private send(type: RequestType, props: Record<string, any>, old?: Record<string, any>, physicalResourceId?: string): Promise<Outcome> {
    return this.deliver(this.event(type, props, old, physicalResourceId));
  }
}
