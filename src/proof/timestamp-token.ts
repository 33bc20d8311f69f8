import { X509Certificate, createHash, verify as verifySignature } from 'node:crypto';
import {
  DerError,
  TAG,
  boolean,
  children,
  ctx,
  expectTag,
  generalizedTimeOf,
  integerOf,
  nullValue,
  octetString,
  oid,
  oidOf,
  readOne,
  sequence,
  unsignedInteger,
  type Tlv,
} from './der.js';

/**
 * RFC 3161 timestamps, pure: the request we send, the response we get, and the offline check of
 * a token (CMS SignedData, RFC 5652, around a TSTInfo). Shared by the stamping client (tsa.ts)
 * and the bundle verifier, so what is stored and what is checked are read the same way.
 */

const OID = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

const DIGESTS: Record<string, string> = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

/** Signature algorithms: those that name their hash, and the bare key types (hash = the signer's digestAlgorithm). */
const SIGNATURES: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.1': null,
  '1.2.840.10045.2.1': null,
};

/** A TimeStampReq for a sha256 digest, asking for the TSA's certificate in the token. */
export function timestampRequest(digest: Buffer, nonce: Buffer): Buffer {
  return sequence(
    unsignedInteger(Buffer.from([1])),
    sequence(sequence(oid(OID.sha256), nullValue()), octetString(digest)),
    unsignedInteger(nonce),
    boolean(true),
  );
}

export type TimestampResponse =
  | { ok: true; token: Buffer }
  | { ok: false; problem: string };

const STATUS = ['granted', 'grantedWithMods', 'rejection', 'waiting', 'revocationWarning', 'revocationNotification'];

/** The token out of a TimeStampResp, or why there is none (the TSA's status and text). */
export function parseTimestampResponse(der: Buffer): TimestampResponse {
  try {
    const [statusInfo, token] = children(expectTag(readOne(der), TAG.SEQUENCE, 'TimeStampResp'));
    const [status, ...rest] = children(expectTag(statusInfo, TAG.SEQUENCE, 'PKIStatusInfo'));
    const code = Number(integerOf(status));
    if (code !== 0 && code !== 1) {
      const text = rest[0]?.tag === TAG.SEQUENCE ? children(rest[0]).map((s) => s.value.toString('utf8')).join('; ') : '';
      return { ok: false, problem: `the TSA answered ${STATUS[code] ?? `status ${code}`}${text ? `: ${text.slice(0, 200)}` : ''}` };
    }
    if (!token) return { ok: false, problem: 'the TSA granted the request but sent no token' };
    return { ok: true, token: Buffer.from(token.raw) };
  } catch (err) {
    return { ok: false, problem: `not a TimeStampResp: ${(err as Error).message}` };
  }
}

export interface TstInfo {
  policy: string;
  imprintAlgorithm: string;
  imprint: Buffer;
  serial: string;
  genTime: Date;
  nonce: bigint | null;
}

export interface TokenParts {
  tst: TstInfo;
  tstDer: Buffer;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  signedAttrs: Tlv;
  signature: Buffer;
  /** IssuerAndSerialNumber's serial (upper-case hex), or null when the signer is named by key id. */
  signerSerial: string | null;
  certificates: X509Certificate[];
}

/** Takes a TimeStampToken (ContentInfo with SignedData) apart; throws DerError when malformed. */
export function parseToken(der: Buffer): TokenParts {
  const [type, explicit] = children(expectTag(readOne(der), TAG.SEQUENCE, 'ContentInfo'));
  if (oidOf(type) !== OID.signedData) throw new DerError('not a CMS SignedData');
  const [signedData] = children(expectTag(explicit, ctx(0), 'ContentInfo content'));
  const parts = children(expectTag(signedData, TAG.SEQUENCE, 'SignedData'));
  const encap = expectTag(parts[2], TAG.SEQUENCE, 'encapContentInfo');
  const [eType, eContent] = children(encap);
  if (oidOf(eType) !== OID.tstInfo) throw new DerError('the signed content is not a TSTInfo');
  const [octets] = children(expectTag(eContent, ctx(0), 'eContent'));
  const tstDer = Buffer.from(expectTag(octets, TAG.OCTET_STRING, 'eContent').value);
  const certificates = parts
    .filter((p) => p.tag === ctx(0))
    .flatMap((p) => children(p).filter((c) => c.tag === TAG.SEQUENCE).map((c) => new X509Certificate(c.raw)));
  const signerInfos = children(expectTag(parts[parts.length - 1], TAG.SET, 'signerInfos'));
  if (signerInfos.length !== 1) throw new DerError(`expected one signer, found ${signerInfos.length}`);
  const si = children(expectTag(signerInfos[0], TAG.SEQUENCE, 'SignerInfo'));
  const sid = si[1];
  const signerSerial = sid?.tag === TAG.SEQUENCE ? hexOfInteger(children(sid)[1]) : null;
  const [digestAlg] = children(expectTag(si[2], TAG.SEQUENCE, 'digestAlgorithm'));
  const signedAttrs = expectTag(si[3], ctx(0), 'signedAttrs');
  const [sigAlg] = children(expectTag(si[4], TAG.SEQUENCE, 'signatureAlgorithm'));
  const signature = Buffer.from(expectTag(si[5], TAG.OCTET_STRING, 'signature').value);
  return {
    tst: parseTstInfo(tstDer),
    tstDer,
    digestAlgorithm: oidOf(digestAlg),
    signatureAlgorithm: oidOf(sigAlg),
    signedAttrs,
    signature,
    signerSerial,
    certificates,
  };
}

function parseTstInfo(der: Buffer): TstInfo {
  const f = children(expectTag(readOne(der), TAG.SEQUENCE, 'TSTInfo'));
  const [alg, hash] = children(expectTag(f[2], TAG.SEQUENCE, 'messageImprint'));
  const [algOid] = children(expectTag(alg, TAG.SEQUENCE, 'hashAlgorithm'));
  // After genTime: accuracy (SEQUENCE), ordering (BOOLEAN), nonce (INTEGER), tsa [0], extensions [1].
  const nonce = f.slice(5).find((x) => x.tag === TAG.INTEGER);
  return {
    policy: oidOf(f[1]),
    imprintAlgorithm: oidOf(algOid),
    imprint: Buffer.from(expectTag(hash, TAG.OCTET_STRING, 'hashedMessage').value),
    serial: hexOfInteger(f[3]),
    genTime: generalizedTimeOf(f[4]),
    nonce: nonce ? integerOf(nonce) : null,
  };
}

function hexOfInteger(t: Tlv): string {
  expectTag(t, TAG.INTEGER, 'serial number');
  return t.value.toString('hex').replace(/^(00)+(?=.)/, '').toUpperCase();
}

export type TokenVerdict =
  | { ok: true; genTime: Date; tsa: string; serial: string; policy: string }
  | { ok: false; problem: string };

/**
 * Checks a token offline: its imprint is the sha256 `digest` we asked for, the signed attributes
 * bind the TSTInfo, the signature verifies with the signer's certificate, and that certificate
 * is for time stamping, valid at genTime and issued by (or is) one of `trusted` (up to 4 levels
 * through certificates the token carries). Revocation is not checked (no network here).
 */
export function verifyToken(der: Buffer, digest: Buffer, trusted: readonly X509Certificate[]): TokenVerdict {
  let p: TokenParts;
  try {
    p = parseToken(der);
  } catch (err) {
    return { ok: false, problem: `not a timestamp token: ${(err as Error).message}` };
  }
  if (p.tst.imprintAlgorithm !== OID.sha256) return { ok: false, problem: `its imprint uses ${p.tst.imprintAlgorithm}, not sha256` };
  if (!p.tst.imprint.equals(digest)) return { ok: false, problem: 'its imprint is not the hash of this checkpoint: the token is for something else' };
  const hash = DIGESTS[p.digestAlgorithm];
  if (!hash) return { ok: false, problem: `unsupported digest algorithm ${p.digestAlgorithm}` };
  const attrs = new Map<string, Tlv[]>();
  for (const a of children(p.signedAttrs)) {
    const [type, values] = children(a);
    attrs.set(oidOf(type), children(values));
  }
  const contentType = attrs.get(OID.contentType)?.[0];
  if (!contentType || oidOf(contentType) !== OID.tstInfo) return { ok: false, problem: 'its signed attributes do not name a TSTInfo' };
  const md = attrs.get(OID.messageDigest)?.[0];
  if (!md || !md.value.equals(createHash(hash).update(p.tstDer).digest())) {
    return { ok: false, problem: 'its signed attributes do not match the TSTInfo: the token was altered' };
  }
  if (!(p.signatureAlgorithm in SIGNATURES)) return { ok: false, problem: `unsupported signature algorithm ${p.signatureAlgorithm}` };
  // RFC 5652 §5.4: the signature covers the attributes DER-encoded as a SET, not as the [0] they are sent in.
  const signed = Buffer.concat([Buffer.from([TAG.SET]), p.signedAttrs.raw.subarray(1)]);
  const sigHash = SIGNATURES[p.signatureAlgorithm] ?? hash;
  const candidates = [...p.certificates, ...trusted].filter((c) => p.signerSerial === null || c.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, '') === p.signerSerial);
  const signer = candidates.find((c) => {
    try {
      return verifySignature(sigHash, signed, c.publicKey, p.signature);
    } catch {
      return false;
    }
  });
  if (!signer) return { ok: false, problem: 'its signature does not verify with the TSA certificate: the token was forged or altered' };
  if (!(signer.keyUsage ?? []).includes(OID.timeStamping)) return { ok: false, problem: `its signer (${signer.subject.replace(/\n/g, ', ')}) is not a time-stamping certificate` };
  const at = p.tst.genTime.getTime();
  if (at < Date.parse(signer.validFrom) || at > Date.parse(signer.validTo)) {
    return { ok: false, problem: `its signer's certificate was not valid at ${p.tst.genTime.toISOString()}` };
  }
  if (!chainsTo(signer, p.certificates, trusted)) {
    return { ok: false, problem: `its signer (${signer.subject.replace(/\n/g, ', ')}) is not issued by a CA you trust` };
  }
  return { ok: true, genTime: p.tst.genTime, tsa: signer.subject.replace(/\n/g, ', '), serial: p.tst.serial, policy: p.tst.policy };
}

function chainsTo(cert: X509Certificate, carried: readonly X509Certificate[], trusted: readonly X509Certificate[]): boolean {
  let current = cert;
  for (let depth = 0; depth < 5; depth++) {
    if (trusted.some((t) => t.fingerprint256 === current.fingerprint256)) return true;
    if (trusted.some((t) => current.checkIssued(t) && current.verify(t.publicKey))) return true;
    const next = carried.find((c) => c.fingerprint256 !== current.fingerprint256 && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) return false;
    current = next;
  }
  return false;
}

/** The certificates of a PEM bundle (a CA file). */
export function certificatesOf(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}
