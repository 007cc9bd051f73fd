// The rulebook shared with the Go handler: lambda/internal/rules/rules.json, compiled into
// rules-data.generated.ts by scripts/rules-ts.js. Change a rule there, and its cases in
// lambda/internal/rules/cases.json; test/rules.test.ts and `go test ./internal/rules` run them.
import { RULES } from './rules-data.generated';

/** An ECR or ECR Public registry host, parsed. */
export interface EcrHost {
  readonly kind: 'private' | 'public';
  /** The registry's account; '' for ECR Public. */
  readonly account: string;
  /** The region the registry (and GetAuthorizationToken) is in. */
  readonly region: string;
  /** The ARN partition (aws, aws-cn, aws-us-gov, aws-iso, ...); undefined when the region is a token. */
  readonly partition?: string;
  /** What follows the region: amazonaws.com, amazonaws.com.cn, on.aws, ...; '' for ECR Public. */
  readonly dnsSuffix: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
}

export interface ParseEcrHostOptions {
  /**
   * A regular expression source matching a placeholder that stands for an unresolved token;
   * the account, region and DNS suffix may then each be one.
   */
  readonly token?: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function hostRegExp(form: string, token?: string): RegExp {
  const alt = (p: string) => (token ? `${p}|${token}` : p);
  const suffixes = [...new Set(RULES.ecr.partitions.map(p => escape(p.dnsSuffix)))].join('|');
  const parts: Record<string, string> = {
    '{account}': `(?<account>${alt(RULES.ecr.account)})`,
    '{region}': `(?<region>${alt(RULES.ecr.region)})`,
    '{fips}': '(?<fips>-fips)?',
    '{dnsSuffix}': `(?<dnsSuffix>${alt(suffixes)})`,
  };
  const source = form.split(/(\{[a-zA-Z]+\})/).map(piece => parts[piece] ?? escape(piece)).join('');
  return new RegExp(`^${source}$`);
}

const PRIVATE_HOSTS = RULES.ecr.privateHosts.map(h => ({ re: hostRegExp(h.form), dualStack: h.dualStack, form: h.form }));
const REGION_OF = RULES.ecr.partitions.map(p => new RegExp(p.regionRegex));

function partitionOf(region: string, suffix: string): { id: string; ok: boolean } {
  const i = REGION_OF.findIndex(re => re.test(region));
  if (i >= 0) {
    const p = RULES.ecr.partitions[i];
    return { id: p.id, ok: suffix === '' || suffix === p.dnsSuffix };
  }
  // A region no partition knows yet (a new commercial one): the first partition with the host's suffix.
  const p = RULES.ecr.partitions.find(q => suffix === '' || q.dnsSuffix === suffix);
  return p ? { id: p.id, ok: true } : { id: '', ok: false };
}

/**
 * Parses an ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, its FIPS, dual-stack, China, GovCloud
 * and ISO forms) or ECR Public registry host. Returns undefined for any other host.
 */
export function parseEcrHost(host: string, opts: ParseEcrHostOptions = {}): EcrHost | undefined {
  const token = opts.token;
  const lower = host.toLowerCase();
  const pub = RULES.ecr.publicHosts.find(p => p.host === lower);
  if (pub) {
    return { kind: 'public', account: '', region: RULES.ecr.publicRegion, partition: RULES.ecr.publicPartition, dnsSuffix: '', fips: false, dualStack: pub.dualStack };
  }
  for (const form of PRIVATE_HOSTS) {
    const re = token ? hostRegExp(form.form, token) : form.re;
    const m = re.exec(lower);
    if (!m?.groups) {
      continue;
    }
    const g = m.groups;
    const region = g.region;
    const suffix = g.dnsSuffix ?? '';
    const isToken = (s: string) => token !== undefined && new RegExp(`^(?:${token})$`).test(s);
    let partition: string | undefined;
    if (!isToken(region)) {
      const p = partitionOf(region, isToken(suffix) ? '' : suffix);
      if (!p.ok) {
        return undefined;
      }
      partition = p.id;
    }
    // A form that fixes its suffix (on.aws): the suffix is what follows the region.
    const dnsSuffix = g.dnsSuffix ?? lower.slice(lower.indexOf(`.${region}.`) + region.length + 2);
    return { kind: 'private', account: g.account, region, partition, dnsSuffix, fips: g.fips !== undefined, dualStack: form.dualStack };
  }
  return undefined;
}

/** ECR Public's registry hosts (public.ecr.aws and its dual-stack name). */
export const ECR_PUBLIC_HOSTS: readonly string[] = RULES.ecr.publicHosts.map(h => h.host);

/** The ARN partition of a literal region (`aws` for a region no partition claims). */
export function partitionOfRegion(region: string): string {
  return partitionOf(region, '').id;
}

/** One ImageArch entry, parsed: `linux/arm/v7` is { os: linux, architecture: arm, variant: v7 }. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  /** '' when any variant will do. */
  readonly variant: string;
}

const OS = new RegExp(RULES.platform.os);
const ARCH = new RegExp(RULES.platform.architecture);
const VARIANT = new RegExp(RULES.platform.variant);

/** Architectures accepted without a warning: Go's GOARCH names, as in OCI platforms. */
export const KNOWN_ARCHITECTURES: readonly string[] = RULES.platform.knownArchitectures;

/** The grammar, for messages. */
export const PLATFORM_GRAMMAR = 'arch, arch/variant or os/arch[/variant] in lowercase, e.g. arm64, arm/v7 or linux/arm64/v8';

/** Parses `arch`, `arch/variant` or `os/arch[/variant]`; undefined when the string is none of these. */
export function parsePlatform(s: string): Platform | undefined {
  const parts = s.split('/');
  const os = RULES.platform.defaultOS;
  let p: Platform;
  if (parts.length === 1) {
    p = { os, architecture: parts[0], variant: '' };
  } else if (parts.length === 2) {
    p = VARIANT.test(parts[1]) ? { os, architecture: parts[0], variant: parts[1] } : { os: parts[0], architecture: parts[1], variant: '' };
  } else if (parts.length === 3) {
    p = { os: parts[0], architecture: parts[1], variant: parts[2] };
  } else {
    return undefined;
  }
  // An architecture that reads as a variant (v7) would turn into one when written out in full
  // (linux/v7 is arch linux, variant v7): no such architecture exists, so it is refused.
  if (!OS.test(p.os) || !ARCH.test(p.architecture) || VARIANT.test(p.architecture) ||
    ((p.variant !== '' || parts.length === 3) && !VARIANT.test(p.variant))) {
    return undefined;
  }
  return p;
}

export function isKnownArchitecture(architecture: string): boolean {
  return KNOWN_ARCHITECTURES.includes(architecture);
}

const TAG = new RegExp(RULES.tag.pattern);

/** Whether `tag` is a valid image tag (OCI distribution grammar). */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

interface RetryField { readonly name: string; readonly min: number; readonly max?: number; readonly integer: boolean; readonly default: number }
const RETRY: readonly RetryField[] = RULES.retry.fields;

/** The fields retryConfigs accepts. */
export const RETRY_FIELDS: readonly string[] = RETRY.map(f => f.name);

/** The defaults, for messages: `numAttempts 3, baseDelay 1, maxDelay 10`. */
export const RETRY_DEFAULTS_TEXT = RETRY.map(f => `${f.name} ${f.default}`).join(', ');

/**
 * Checks retryConfigs values (numbers): the field at fault and what is wrong, or undefined.
 * Missing fields take their defaults before the cross-field rules apply.
 */
export function retryProblem(values: { [field: string]: number }): { field: string; message: string } | undefined {
  for (const k of Object.keys(values).sort()) {
    const f = RETRY.find(r => r.name === k);
    const v = values[k];
    if (!f) {
      return { field: k, message: `unknown field ${JSON.stringify(k)}; allowed: ${RETRY_FIELDS.join(', ')}` };
    }
    if (typeof v !== 'number' || Number.isNaN(v) || v < f.min) {
      return { field: k, message: `${k} must be a number of at least ${f.min}, got ${typeof v === 'number' ? v : JSON.stringify(v)}` };
    }
    if (f.max !== undefined && v > f.max) {
      return { field: k, message: `${k} of ${v} is too large (at most ${f.max})` };
    }
    if (f.integer && !Number.isInteger(v)) {
      return { field: k, message: `${k} must be a whole number, got ${v}` };
    }
  }
  const get = (name: string) => values[name] ?? RETRY.find(r => r.name === name)?.default ?? 0;
  for (const [lo, hi] of RULES.retry.notAbove) {
    if (get(lo) > get(hi)) {
      return { field: lo, message: `${lo} (${get(lo)}) must not exceed ${hi} (${get(hi)})` };
    }
  }
  return undefined;
}

/**
 * The (key, ref) splits of the part of `s3://bucket/KEY[:REF]` after the bucket, longest key first;
 * the handler opens the first key that exists.
 */
export function s3KeyCandidates(keyAndRef: string): Array<[string, string]> {
  const sep = RULES.s3.refSeparator;
  const out: Array<[string, string]> = [[keyAndRef, '']];
  for (let i = keyAndRef.lastIndexOf(sep); i > 0; i = keyAndRef.lastIndexOf(sep, i - 1)) {
    out.push([keyAndRef.slice(0, i), keyAndRef.slice(i + sep.length)]);
  }
  return out;
}
