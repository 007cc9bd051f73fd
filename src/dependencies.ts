import { Aws, CfnResource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { locateImage } from './image-uri';

/**
 * Makes `resource` depend on every ECR repository (and pull-through cache rule) of the same
 * app that an image uri names by a literal string.
 *
 * `repo.repositoryUriForTag()` references the repository, so CloudFormation orders the copy
 * after it. A literal name (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/my-repo:latest` next to
 * `new ecr.Repository(this, 'R', { repositoryName: 'my-repo' })`) gives it nothing to order by,
 * and the copy may run before the repository exists.
 */
export function dependOnNamedRepositories(resource: IConstruct, uris: string[]): void {
  const stack = Stack.of(resource);
  const named = uris.map(locateImage).flatMap(loc => loc.ecr ? [loc.ecr] : [])
    .filter(ecr => !Token.isUnresolved(ecr.repositoryName));
  if (named.length === 0) {
    return;
  }
  for (const c of stack.node.root.node.findAll()) {
    if (!CfnResource.isCfnResource(c)) {
      continue;
    }
    const name = literalName(c);
    if (name === undefined) {
      continue;
    }
    const other = Stack.of(c);
    const matches = named.some(ecr =>
      sameValue(stack, ecr.account, Aws.ACCOUNT_ID, stack.account, other.account)
      && sameValue(stack, ecr.region, Aws.REGION, stack.region, other.region) && (
        c.cfnResourceType === 'AWS::ECR::Repository'
          ? ecr.repositoryName === name
          // A pull-through cache rule creates repositories under its prefix.
          : ecr.repositoryName.startsWith(`${name}/`)));
    if (matches) {
      resource.node.addDependency(c);
    }
  }
}

/** The literal repository name, or pull-through cache prefix, a resource declares. */
function literalName(c: CfnResource): string | undefined {
  let value: unknown;
  if (c.cfnResourceType === 'AWS::ECR::Repository') {
    value = (c as any).repositoryName;
  } else if (c.cfnResourceType === 'AWS::ECR::PullThroughCacheRule') {
    value = (c as any).ecrRepositoryPrefix;
  }
  return typeof value === 'string' && !Token.isUnresolved(value) ? value : undefined;
}

/**
 * Whether an account or region in a uri is the one another stack deploys to. The pseudo
 * parameter (`Aws.ACCOUNT_ID`) in the uri means the deployment's own stack's value.
 */
function sameValue(stack: Stack, inUri: string, pseudo: string, ofDeployment: string, ofOther: string): boolean {
  const resolved = (v: string) => JSON.stringify(stack.resolve(v));
  const value = resolved(inUri) === resolved(pseudo) ? ofDeployment : inUri;
  return value === ofOther || resolved(value) === resolved(ofOther);
}
