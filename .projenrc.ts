import { DependencyType, awscdk, javascript } from 'projen';

// Java and Go package names (see publishToMaven/publishToGo below).
const JAVA_PACKAGE = 'io.github.cdk_ecr_deployment.cdk.ecr.deployment';
const GO_MODULE = 'github.com/cdk-ecr-deployment/cdk-ecr-deployment-go';
const GO_PACKAGE = 'cdkecrdeployment';

// The one source of project configuration: package.json, tsconfig, eslint, jest,
// .gitignore/.npmignore and the GitHub workflows are all generated from here.
const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-ecr-deployment',
  description: 'CDK construct to copy container images into Amazon ECR (or any registry) at deploy time',
  author: 'cdk-ecr-deployment maintainers',
  authorAddress: 'maintainers@users.noreply.example',
  repositoryUrl: 'https://github.com/cdk-ecr-deployment/cdk-ecr-deployment.git',
  keywords: ['cdk', 'ecr', 'docker', 'container', 'image', 'registry', 'deployment'],
  license: 'Apache-2.0',
  stability: 'stable',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,

  // Node 20 runs jsii 5.9; keep the published compiler line the same as upstream v4.
  jsiiVersion: '~5.9.0',

  // Peer ranges are the contract with users; the dev copies below are what we test with.
  cdkVersion: '2.80.0',
  constructsVersion: '10.0.0',
  peerDependencyOptions: { pinnedDevDependency: false },
  devDeps: [
    '@types/node@^20',
    'aws-cdk-lib@2.257.0',
    'constructs@^10.5.1',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@^2.197.0',
    'aws-cdk@^2.1100.0',
    '@aws-sdk/client-ecr@^3',
    '@aws-sdk/client-s3@^3',
    '@aws-sdk/client-secrets-manager@^3',
    'cdk-nag@^2.37.0',
    // jsii-pacmak writes the installed version of every jsii dependency into the Go module's
    // go.mod. The Go bindings of @aws-cdk/cloud-assembly-schema are published only at the
    // versions aws-cdk-lib's Go releases require (awscdk/v2 v2.257.0 requires v53.25.0; the
    // Go module proxy serves no v53.26+), so the dev copy is held at that version. Move it
    // together with aws-cdk-lib above (the go-app test fails otherwise).
    '@aws-cdk/cloud-assembly-schema@53.25.0',
  ],

  // The pre-compile step builds the Go handler, so CI runners need Go: the release go.mod's
  // toolchain line names. These steps also run before checkout in packaging jobs, so they name
  // no file of the repository.
  workflowBootstrapSteps: [{
    name: 'Set up Go',
    uses: 'actions/setup-go@v5',
    with: { 'go-version': '1.27.3', 'cache': false },
  }],

  publishToPypi: {
    distName: 'cdk-ecr-deployment',
    module: 'cdk_ecr_deployment',
  },
  // Java and Go are named as cdklabs names its libraries (io.github.cdklabs /
  // io.github.cdklabs.<words of the npm name>; github.com/cdklabs/<name>-go), with our own
  // GitHub owner (repositoryUrl) in place of cdklabs. Maven Central verifies an io.github.OWNER
  // namespace against that GitHub account; a Java package cannot contain '-', so the owner's
  // hyphens become '_' there (JLS 6.1). The Go module lives in its own repository, which the
  // release workflow pushes the generated code to.
  publishToMaven: {
    mavenGroupId: 'io.github.cdk-ecr-deployment',
    mavenArtifactId: 'cdk-ecr-deployment',
    javaPackage: JAVA_PACKAGE,
  },
  publishToGo: {
    moduleName: GO_MODULE,
    packageName: GO_PACKAGE,
  },
  // .NET (NuGet) is not configured: these machines have no dotnet SDK, so the package could be
  // neither built nor tested here (README, Install).

  gitignore: [
    '/lambda-bin/',
    '/.venv/',
    '/.tools/',
    'cdk.out/',
    '/bench/out/',
    '/test/e2e/.work/',
    '/.e2e/',
    '*.pprof',
    '__pycache__/',
    '/.reports/',
    // Maven's build output of the Java quickstart app (test/langs/java).
    'test/langs/java/target/',
    '.jsii.tabl.json',
    // integ snapshots keep templates; the staged assets (the handler binaries) are rebuilt.
    'test/*.snapshot/asset.*',
  ],
  npmIgnoreOptions: {
    ignorePatterns: [
      '/lambda/',
      '/bench/',
      '/scripts/',
      '/examples/',
      '/.ci/',
      '/.venv/',
      '/.tools/',
      'cdk.out/',
      '/test/',
    ],
  },

  jestOptions: {
    // Snapshots are assertions: CI must fail on a difference, never rewrite it.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      // The end-to-end suites need real servers; they run through the `e2e` task instead.
      testPathIgnorePatterns: ['/node_modules/', '/test/e2e/', '/cdk.out/'],
      // The packed upstream release has our package name; keep it out of jest's module map.
      modulePathIgnorePatterns: ['<rootDir>/.tools/'],
      // Drop-in comparison packs and installs upstream and synthesizes CDK apps.
      testTimeout: 120_000,
      // Each synthesized app stages the handler binaries in a temporary cdk.out: the run gets
      // its own TMPDIR, removed at the end (test/support/tmpdir.ts).
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  },
  tsconfigDevFile: 'tsconfig.dev.json',
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'examples', 'projenrc'],
    tsconfigPath: './tsconfig.dev.json',
    // The tests live only in tsconfig.dev.json, which the project service would not find.
    projectService: false,
  },
  tsconfigDev: {
    compilerOptions: {},
    include: ['examples/**/*.ts', 'bench/**/*.ts', '.projenrc.ts'],
    exclude: ['node_modules', '.tools', 'cdk.out', 'lib', 'dist', 'test/**/cdk.out', 'test/**/*.snapshot'],
  },
});

// projen folds a devDependency into the same-named peer; declare it after construction so
// a clean `npm ci` installs the constructs version we test with.
project.deps.addDependency('constructs@^10.5.1', DependencyType.BUILD);

// The Go handler is built with the local toolchain (no Docker) before jsii compiles,
// so `lib/` and the packed tarball always carry both architectures' bootstraps.
project.preCompileTask.exec('bash lambda/build.sh');

// One rulebook for both languages: the handler embeds lambda/internal/rules/rules.json, the
// construct imports it as src/rules-data.generated.ts. jest (ts-jest) compiles src/ itself, so
// the test and e2e tasks write it too; a fresh clone needs no other step.
const RULES_TS = 'node scripts/rules-ts.js';
project.preCompileTask.prependExec(RULES_TS);
project.testTask.prependExec(RULES_TS);
// Added after construction: projen's own `!/src/` would otherwise cancel it.
project.gitignore.addPatterns('/src/rules-data.generated.ts');

// projen packages only JS under CI=true; we ship the wheel too, so CI must build it.
const packageTask = project.tasks.tryFind('package')!;
packageTask.reset();
packageTask.spawn(project.tasks.tryFind('package-all')!);

// jsii-pacmak's Java target resolves Maven dependencies into a fresh temporary repository on
// every run; point it at the user's ~/.m2 so the downloads are cached between builds (the Java
// test app resolves from the same cache). Maven only ever adds to it.
project.tasks.tryFind('package:java')!.reset('jsii-pacmak -v --target java --maven-local-repository="$HOME/.m2/repository"');

// jsii-pacmak names its tarball `name@version.jsii.tgz`; also leave the plain `npm pack` name
// (`cdk-ecr-deployment-VERSION.tgz`) that users and the checks expect.
project.tasks.tryFind('package:js')!.exec('npm pack --pack-destination dist/js --silent');

// Every README snippet must compile (strict); its Python, Java and Go translations ship in the
// packages' READMEs. Rosetta reuses the translations of an unchanged snippet from the last tablet,
// even when the Java package or Go module names changed since: drop a tablet that lacks them.
project.postCompileTask.exec(`grep -qsF '${GO_MODULE}/${GO_PACKAGE}' .jsii.tabl.json && grep -qsF '${JAVA_PACKAGE}.' .jsii.tabl.json || rm -f .jsii.tabl.json`);
project.postCompileTask.exec('jsii-rosetta extract --strict');

project.addTask('e2e', {
  description: 'End-to-end tests: the built bootstrap under the Lambda RIE against local registries and moto',
  // test/e2e/environment.ts fails a suite that leaves a harness server or process, or any
  // socket, server, pipe or child process holding Node's loop, open: --forceExit no longer hides
  // them. It stays only because, in 2 of 3 whole runs, jest's main thread kept spinning (no
  // syscalls) after the last suite and never exited; remove it once that is found.
  // Not --detectOpenHandles: over the whole run its bookkeeping is slow (run it on one suite).
  exec: 'jest --config test/e2e/jest.config.json --runInBand --forceExit',
  receiveArgs: true,
});
project.tasks.tryFind('e2e')!.prependExec(RULES_TS);

project.addTask('langs', {
  description: 'The quickstart as TypeScript, Python, Java and Go apps, synthesized with the built packages (dist/): equal templates',
  exec: 'jest --config test/langs/jest.config.json --runInBand',
  receiveArgs: true,
});

project.addTask('integ:verify', {
  description: 'Verify the committed integ snapshots offline: a snapshot difference fails, nothing deploys',
  exec: 'integ-runner --language typescript --directory test --parallel-regions us-east-1',
});
project.addTask('integ:snapshot', {
  description: 'Rewrite the integ snapshots without deploying (review the diff before committing)',
  exec: 'integ-runner --language typescript --directory test --update-on-failed --dry-run --force',
});

project.synth();
