// The README's Install section names the packages the build really produces, and the Java and Go
// package pages (the READMEs jsii-pacmak writes into dist/java and dist/go) carry a Java and a Go
// translation of every README example, made by the build's `jsii-rosetta extract --strict`.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const targets = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).jsii.targets;
const install = README.slice(README.indexOf('## Install'), README.indexOf('## Usage'));

const javaPackage: string = targets.java.package;
const { groupId, artifactId } = targets.java.maven;
const goImport = `${targets.go.moduleName}/${targets.go.packageName}`;
const mavenDir = path.join(ROOT, 'dist', 'java', ...groupId.split('.'), artifactId);

function sourcesJarFile(name: string): string {
  const [version] = fs.readdirSync(mavenDir).filter(n => fs.statSync(path.join(mavenDir, n)).isDirectory());
  const jar = path.join(mavenDir, version, `${artifactId}-${version}-sources.jar`);
  return execFileSync('unzip', ['-p', jar, name], { maxBuffer: 64 * 1024 * 1024 }).toString();
}

describe('README "Install"', () => {
  test('shows all four languages: npm, pip, Maven and go get', () => {
    expect(install).toMatch(/^npm install cdk-ecr-deployment\b/m);
    expect(install).toMatch(/^pip install cdk-ecr-deployment\b/m);
    expect(install).toContain(`go get ${goImport}`);
    expect(install).toContain(`<groupId>${groupId}</groupId>`);
    expect(install).toContain(`<artifactId>${artifactId}</artifactId>`);
    expect(install).toContain(`import ${javaPackage}.ECRDeployment;`);
    expect(install).toContain(`import "${goImport}"`);
  });

  test('the Maven coordinates are those of the built jar, in dist/java', () => {
    const [version] = fs.readdirSync(mavenDir).filter(n => fs.statSync(path.join(mavenDir, n)).isDirectory());
    const pom = fs.readFileSync(path.join(mavenDir, version, `${artifactId}-${version}.pom`), 'utf8');
    expect(pom).toContain(`<groupId>${groupId}</groupId>`);
    expect(pom).toContain(`<artifactId>${artifactId}</artifactId>`);
    expect(sourcesJarFile(`${javaPackage.replace(/\./g, '/')}/ECRDeployment.java`)).toContain(`package ${javaPackage};`);
  });

  test('the go get path is the module path of the built Go module, in dist/go', () => {
    const gomod = fs.readFileSync(path.join(ROOT, 'dist', 'go', targets.go.packageName, 'go.mod'), 'utf8');
    expect(gomod.split('\n')[0]).toBe(`module ${goImport}`);
  });

  test('.NET is said to be unpublished, and no NuGet target is configured while there is no dotnet SDK', () => {
    expect(install).toMatch(/\.NET \(NuGet\) is not published yet\. We publish only packages we build and test, and our build\s+machines have no \.NET SDK\./);
    expect(targets.dotnet).toBeUndefined();
    // If a machine gains the SDK, this fails: configure and test the NuGet package, then change the README.
    expect(() => execFileSync('bash', ['-c', 'command -v dotnet'], { stdio: 'pipe' })).toThrow();
  });
});

describe('README examples in the Java and Go package pages', () => {
  const tablet = JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii.tabl.json'), 'utf8'));
  const snippets = Object.values<any>(tablet.snippets).filter(s => s.location?.api?.api === 'moduleReadme');
  const tsBlocks = README.match(/^```ts$/gm) ?? [];

  test('every ```ts block was compiled (strict) and translated to Java and Go', () => {
    expect(tsBlocks.length).toBeGreaterThan(0);
    expect(snippets).toHaveLength(tsBlocks.length);
    for (const s of snippets) {
      expect({ line: s.location.field.line, didCompile: s.didCompile }).toEqual({ line: s.location.field.line, didCompile: true });
      expect(s.translations.java?.source).toContain(`import ${javaPackage}.`);
      expect(s.translations.go?.source).toContain(`import "${goImport}"`);
    }
  });

  test('the Go module README carries every Go translation, and no TypeScript', () => {
    const goReadme = fs.readFileSync(path.join(ROOT, 'dist', 'go', targets.go.packageName, 'README.md'), 'utf8');
    expect(goReadme).not.toMatch(/^```ts$/m);
    expect(goReadme.match(/^```go$/gm)).toHaveLength(tsBlocks.length);
    for (const s of snippets) expect(goReadme).toContain(s.translations.go.source.trim());
  });

  test('the Java package documentation carries every Java translation', () => {
    const javadoc = sourcesJarFile(`${javaPackage.replace(/\./g, '/')}/package-info.java`);
    for (const s of snippets) {
      const calls = (s.translations.java.source as string).split('\n').filter(l => /Builder\.create\(this, "/.test(l));
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(javadoc).toContain(call.trim());
      expect(javadoc).toContain(`import ${javaPackage}.ECRDeployment;`);
    }
  });
});
