import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type Config } from '../config/load.js';
import { checkpointMessage, keyIdOf, type CheckpointFacts } from './format.js';

/** The Ed25519 key that signs checkpoints. */
export interface ProofKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM, as published at /v1/proof/public-key and put in every bundle. */
  publicPem: string;
  keyId: string;
}

export function signCheckpoint(key: ProofKey, c: Omit<CheckpointFacts, 'key_id'>): { key_id: string; signature: string } {
  const signature = sign(null, checkpointMessage({ ...c, key_id: key.keyId }), key.privateKey).toString('base64');
  return { key_id: key.keyId, signature };
}

const cache = new WeakMap<Config, ProofKey>();

/**
 * The checkpoint key, in this order: MAILTRAIL_PROOF_PRIVATE_KEY (PEM), MAILTRAIL_PROOF_KEY_FILE,
 * else (embedded mode only) `<data dir>/proof-key.pem`, generated once with mode 0600. With
 * DATABASE_URL every node must sign with the same key, so it must be given explicitly.
 */
export function resolveProofKey(config: Config): ProofKey {
  let key = cache.get(config);
  if (!key) {
    key = fromPem(loadPem(config));
    cache.set(config, key);
  }
  return key;
}

function loadPem(config: Config): { pem: string; name: string } | null {
  const name = 'MAILTRAIL_PROOF_PRIVATE_KEY';
  // Environments that cannot hold newlines carry the PEM with literal \n.
  if (config.MAILTRAIL_PROOF_PRIVATE_KEY) return { pem: config.MAILTRAIL_PROOF_PRIVATE_KEY.replace(/\\n/g, '\n'), name };
  const file = config.MAILTRAIL_PROOF_KEY_FILE;
  if (file) {
    if (existsSync(file)) return { pem: readFileSync(file, 'utf8'), name: 'MAILTRAIL_PROOF_KEY_FILE' };
    if (config.DATABASE_URL) {
      throw new ConfigError(`MAILTRAIL_PROOF_KEY_FILE: ${file} does not exist: create it once with \`openssl genpkey -algorithm ed25519 -out ${file}\` and give every node the same file`);
    }
    return { pem: generateInto(file), name: 'MAILTRAIL_PROOF_KEY_FILE' };
  }
  if (config.MAILTRAIL_DATA_DIR === 'memory://') return null;
  if (config.DATABASE_URL) {
    throw new ConfigError(
      'MAILTRAIL_PROOF_PRIVATE_KEY: required with DATABASE_URL (all nodes must sign with the same key): set an Ed25519 PEM from `openssl genpkey -algorithm ed25519`, or MAILTRAIL_PROOF_KEY_FILE',
    );
  }
  const path = join(resolve(config.MAILTRAIL_DATA_DIR), 'proof-key.pem');
  return { pem: existsSync(path) ? readFileSync(path, 'utf8') : generateInto(path), name: path };
}

/** A new Ed25519 key written to `path` (mode 0600; fails if the file exists): start-up and `mailtrail init`. */
export function generateInto(path: string): string {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  return pem;
}

function fromPem(source: { pem: string; name: string } | null): ProofKey {
  // memory:// (tests) signs with a key that lives as long as the process.
  const privateKey = source ? parsePrivate(source) : generateKeyPairSync('ed25519').privateKey;
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    keyId: keyIdOf(publicKey),
  };
}

function parsePrivate({ pem, name }: { pem: string; name: string }): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ConfigError(`${name}: not a PEM private key: create one with \`openssl genpkey -algorithm ed25519\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`${name}: is a ${key.asymmetricKeyType} key; checkpoints need Ed25519 (\`openssl genpkey -algorithm ed25519\`)`);
  }
  return key;
}
