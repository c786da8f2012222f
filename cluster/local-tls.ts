// A local certificate authority and the certificates of a local cluster started with `--tls`: the
// nats-server's (for 127.0.0.1 and localhost) and one client certificate that every process of the
// cluster presents (mutual TLS). Made once with the openssl command (Debian package `openssl`) and
// reused: keys are mode 0600 in <data dir>/auth/tls/.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardflowError } from '../common/errors.ts';

export interface LocalTlsFiles {
  /** The CA certificate every side verifies the other with. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const DAYS = '825';

/** The CA and certificates in `dir`, made when missing. */
export function ensureLocalTls(dir: string): LocalTlsFiles {
  const files: LocalTlsFiles = {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
  if (Object.values(files).every((f) => existsSync(f))) return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', files.ca, '-days', '3650', '-subj', '/CN=shardflow local CA']);
  const sign = (name: string, cert: string, key: string, extensions: string) => {
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=shardflow ${name}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', DAYS, '-extfile', ext]);
  };
  sign('server', files.serverCert, files.serverKey, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', files.clientCert, files.clientKey, 'extendedKeyUsage=clientAuth\n');
  for (const key of [caKey, files.serverKey, files.clientKey]) chmodSync(key, 0o600);
  return files;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new ShardflowError('CONFIG_INVALID', '--tls makes its certificates with openssl, which is not installed (Debian/Ubuntu: apt-get install -y openssl)');
    throw new ShardflowError('CONFIG_INVALID', `openssl ${args[0]} failed: ${e.stderr?.toString().trim().split('\n').at(-1) ?? e.message}`);
  }
}
