import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, type Config } from '../config/load.js';

const run = promisify(execFile);

export interface TlsCredentials {
  key: Buffer;
  cert: Buffer;
  /** Where they came from: the configured files, or the self-signed pair in the data dir. */
  source: string;
}

/**
 * The STARTTLS certificate: the configured pair, else a self-signed one generated once into
 * `<data dir>/smtp-tls/` (sending MTAs encrypt opportunistically and do not verify it). Never
 * smtp-server's built-in certificate, whose private key is public.
 */
export async function tlsCredentials(config: Config): Promise<TlsCredentials> {
  const { MAILTRAIL_SMTP_TLS_CERT: certFile, MAILTRAIL_SMTP_TLS_KEY: keyFile } = config;
  if (certFile || keyFile) {
    if (!certFile || !keyFile) {
      throw new ConfigError(`${certFile ? 'MAILTRAIL_SMTP_TLS_KEY' : 'MAILTRAIL_SMTP_TLS_CERT'}: required with ${certFile ? 'MAILTRAIL_SMTP_TLS_CERT' : 'MAILTRAIL_SMTP_TLS_KEY'}: set both, or neither for a self-signed certificate`);
    }
    return { cert: readPem('MAILTRAIL_SMTP_TLS_CERT', certFile), key: readPem('MAILTRAIL_SMTP_TLS_KEY', keyFile), source: certFile };
  }
  const dir =
    config.MAILTRAIL_DATA_DIR === 'memory://'
      ? await mkdtemp(join(tmpdir(), 'mailtrail-tls-'))
      : join(resolve(config.MAILTRAIL_DATA_DIR), 'smtp-tls');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cn = hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'mailtrail';
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '3650', '-subj', `/CN=${cn}`, '-keyout', key, '-out', cert,
    ]).catch((err: Error) => {
      throw new ConfigError(`MAILTRAIL_SMTP_TLS_CERT: unset, and generating a self-signed certificate with openssl failed (${err.message.split('\n')[0]}): install openssl or set MAILTRAIL_SMTP_TLS_CERT and MAILTRAIL_SMTP_TLS_KEY`);
    });
  }
  const pair = { cert: readFileSync(cert), key: readFileSync(key), source: cert };
  // Without a data dir nothing is kept: the pair lives in memory for this process only.
  if (config.MAILTRAIL_DATA_DIR === 'memory://') rmSync(dir, { recursive: true, force: true });
  return pair;
}

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): give the path of a PEM file`);
  }
}
