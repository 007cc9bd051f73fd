// A throw-away certificate authority and one server certificate for every local TLS service,
// with the ECR-style host names in its SAN so the handler's TLS check passes unmodified.
import * as fs from 'fs';
import * as path from 'path';
import { run } from './proc';

export const ECR_ACCOUNT = '123456789012';
export const ECR_REGION = 'us-east-1';
export const ECR_HOST = `${ECR_ACCOUNT}.dkr.ecr.${ECR_REGION}.amazonaws.com`;
/**
 * The same ECR-style registry under the names of other partitions and endpoint kinds (the proxy
 * routes every rulebook ECR host to it): China, and dual-stack.
 */
export const ECR_HOST_CHINA = `${ECR_ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`;
export const ECR_HOST_DUAL_STACK = `${ECR_ACCOUNT}.dkr-ecr.${ECR_REGION}.on.aws`;

export interface Pki {
  readonly dir: string;
  /** CA certificate (PEM); the handler trusts it through SSL_CERT_FILE. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A folder holding only ca.crt, for `skopeo --cert-dir`. */
  readonly certDir: string;
  /** EC key and self-signed cert that sign registry bearer tokens. */
  readonly tokenKey: string;
  readonly tokenCert: string;
}

export async function makePki(dir: string, extraDnsNames: string[] = []): Promise<Pki> {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const san = ['DNS:localhost', 'IP:127.0.0.1', `DNS:${ECR_HOST}`, `DNS:${ECR_HOST_CHINA}`, `DNS:${ECR_HOST_DUAL_STACK}`, ...extraDnsNames.map(n => `DNS:${n}`)].join(',');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', p('server.key'), '-out', p('server.csr')]);
  fs.writeFileSync(p('server.ext'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', p('server.ext'), '-out', p('server.crt')]);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=e2e token signer', '-keyout', p('token.key'), '-out', p('token.crt')]);
  const certDir = p('certs.d');
  fs.mkdirSync(certDir, { recursive: true });
  fs.copyFileSync(p('ca.crt'), path.join(certDir, 'ca.crt'));
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    certDir,
    tokenKey: p('token.key'),
    tokenCert: p('token.crt'),
  };
}
