import { Token, Tokenization } from 'aws-cdk-lib';
import { ECR_PUBLIC_HOSTS, parseEcrHost } from './rules';

/**
 * What the construct can learn from an image uri at synth time, even when parts of
 * it are tokens (`${Aws.ACCOUNT_ID}`, `repo.repositoryUriForTag()`, a DockerImageAsset's uri).
 * Used to scope IAM statements and to validate literals early.
 */
export interface ImageLocation {
  readonly transport: 'docker' | 's3' | 'unknown';
  /**
   * The ECR repository, when the registry is an ECR host of any partition (the rulebook's forms).
   * The partition is undefined when the region is a token: the stack's partition applies.
   */
  readonly ecr?: { account: string; region: string; repositoryName: string; partition?: string };
  /** The ECR Public repository name, when the registry is `public.ecr.aws`. */
  readonly ecrPublic?: { repositoryName: string };
  /** The S3 object, for `s3://` uris. The key may still carry a `:ref` suffix. */
  readonly s3?: { bucket: string; keyWithRef: string };
  /** True when nothing in the uri is a token. */
  readonly literal: boolean;
  /**
   * True when neither `ecr` nor `ecrPublic` could be read but the registry may still be ECR
   * (a token host, or an unreadable uri): only broad grants can cover it.
   */
  readonly maybeEcr?: boolean;
  /** True when the host is `public.ecr.aws` but the repository cannot be read (a token path). */
  readonly maybeEcrPublic?: boolean;
  /** The uri without its transport prefix (tokens kept). */
  readonly name: string;
}

// Private-use characters cannot occur in a registry host or repository name,
// so they can stand in for tokens while the uri is matched with plain regexes.
const OPEN = '\uE000';
const CLOSE = '\uE001';
const PLACEHOLDER = `${OPEN}\\d+${CLOSE}`;


/**
 * Replaces each token in `s` with a placeholder and returns a function that puts the tokens back.
 */
function withPlaceholders(s: string): { text: string; restore: (t: string) => string } {
  if (!Token.isUnresolved(s)) {
    return { text: s, restore: t => t };
  }
  const tokens: string[] = [];
  const fragments = Tokenization.reverseString(s).mapTokens({
    mapToken: tok => {
      tokens.push(Token.asString(tok));
      return `${OPEN}${tokens.length - 1}${CLOSE}`;
    },
  });
  const text = String(fragments.join({ join: (a: any, b: any) => `${a}${b}` }) ?? '');
  const restore = (t: string) => t.replace(new RegExp(PLACEHOLDER, 'g'), m => tokens[Number(m.slice(1, -1))]);
  return { text, restore };
}

/**
 * Splits `REPO[:TAG][@DIGEST]` into the repository path; a colon after the last slash starts the tag.
 */
function repositoryOf(path: string): string {
  const at = path.indexOf('@');
  const noDigest = at >= 0 ? path.slice(0, at) : path;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  return colon >= 0 ? noDigest.slice(0, colon) : noDigest;
}

/**
 * Analyzes an image uri (`docker://...` or `s3://...`), tokens allowed.
 */
export function locateImage(uri: string): ImageLocation {
  // Validation, grants and dependencies all ask about the same uri: it is parsed once. Token
  // strings are unique in a process, so the same text always means the same thing.
  let loc = located.get(uri);
  if (!loc) {
    loc = locate(uri);
    if (!loc.ecr && !loc.ecrPublic && !isCertainlyNotEcr(uri)) {
      const host = /^docker:\/\/([^/]+)(\/|$)/.exec(uri)?.[1]?.toLowerCase();
      loc = { ...loc, maybeEcr: true, maybeEcrPublic: host !== undefined && ECR_PUBLIC_HOSTS.includes(host) };
    }
    located.set(uri, loc);
  }
  return loc;
}

const located = new Map<string, ImageLocation>();

function locate(uri: string): ImageLocation {
  const { text, restore } = withPlaceholders(uri);
  const literal = !Token.isUnresolved(uri);
  const m = /^([a-z0-9-]+):\/\/(.*)$/s.exec(text);
  if (!m) {
    return { transport: 'unknown', literal, name: uri };
  }
  const [, transport, rest] = m;
  const name = restore(rest);
  if (transport === 's3') {
    const slash = rest.indexOf('/');
    if (slash <= 0) {
      return { transport: 's3', literal, name };
    }
    return { transport: 's3', literal, name, s3: { bucket: restore(rest.slice(0, slash)), keyWithRef: restore(rest.slice(slash + 1)) } };
  }
  if (transport !== 'docker') {
    return { transport: 'unknown', literal, name };
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) {
    return { transport: 'docker', literal, name };
  }
  const host = rest.slice(0, slash);
  const repositoryName = repositoryOf(rest.slice(slash + 1));
  const ecr = parseEcrHost(host, { token: PLACEHOLDER });
  if (ecr?.kind === 'private' && repositoryName) {
    return {
      transport: 'docker',
      literal,
      name,
      ecr: { account: restore(ecr.account), region: restore(ecr.region), repositoryName: restore(repositoryName), partition: ecr.partition },
    };
  }
  if (ecr?.kind === 'public' && repositoryName.includes('/')) {
    // public.ecr.aws/ALIAS/REPO: the registry alias is not part of the repository ARN.
    return { transport: 'docker', literal, name, ecrPublic: { repositoryName: restore(repositoryName.slice(repositoryName.indexOf('/') + 1)) } };
  }
  return { transport: 'docker', literal, name };
}

/**
 * True when the uri names a registry that is certainly not ECR, so no ECR permissions are needed.
 * A host that is a token might be ECR, so it is not "certainly not".
 */
function isCertainlyNotEcr(uri: string): boolean {
  const { text } = withPlaceholders(uri);
  const m = /^docker:\/\/([^/]*)(\/|$)/.exec(text);
  if (!m) {
    return /^s3:\/\//.test(text);
  }
  const first = m[1];
  if (first.includes(OPEN)) {
    return false;
  }
  // Docker Hub short names (`nginx`, `library/nginx`) have no registry host.
  const hasHost = m[2] === '/' && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) {
    return true;
  }
  return parseEcrHost(first) === undefined;
}
