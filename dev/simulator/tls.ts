import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import * as selfsigned from 'selfsigned';

/** Certificates made at start: the TLS server's (trusted by tests as a CA) and the app's client-credential certificate. */

interface KeyPairPem {
  privateKey: string;
  publicKey: string;
}

// selfsigned 2.4.1 accepts a ready key pair (sync mode) but its typings omit it; native RSA keygen is far faster than forge's.
type GenerateWithKeyPair = (
  attrs: { name: string; value: string }[],
  options: { keyPair: KeyPairPem; days: number; algorithm: string; extensions: unknown[] },
) => { cert: string; private: string; fingerprint: string };

function rsaKeyPair(): KeyPairPem {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

function selfSigned(commonName: string, keyPair: KeyPairPem, extensions: unknown[]): string {
  const generate = selfsigned.generate as unknown as GenerateWithKeyPair;
  return generate([{ name: 'commonName', value: commonName }], { keyPair, days: 30, algorithm: 'sha256', extensions })
    .cert;
}

export interface ServerCertificate {
  keyPem: string;
  certPem: string;
}

/** A self-signed certificate for localhost, 127.0.0.1 and ::1; callers trust it as their CA. */
export function createServerCertificate(): ServerCertificate {
  const keyPair = rsaKeyPair();
  const certPem = selfSigned('localhost', keyPair, [
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
  ]);
  return { keyPem: keyPair.privateKey, certPem };
}

export interface ClientCredentialCertificate {
  /** Certificate then private key, the file layout ClientCertificateCredential's certificatePath expects. */
  pem: string;
  certPem: string;
  publicKey: KeyObject;
  /** Lower-case hex thumbprints of the DER certificate; client assertions name the key by x5t (SHA-1) or x5t#S256. */
  thumbprintSha1: string;
  thumbprintSha256: string;
}

export function createClientCredentialCertificate(commonName: string): ClientCredentialCertificate {
  const keyPair = rsaKeyPair();
  const certPem = selfSigned(commonName, keyPair, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  const pkcs8 = createPrivateKey(keyPair.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const x509 = new X509Certificate(certPem);
  return {
    pem: `${certPem.trim()}\n${pkcs8.trim()}\n`,
    certPem,
    publicKey: x509.publicKey,
    thumbprintSha1: createHash('sha1').update(x509.raw).digest('hex'),
    thumbprintSha256: createHash('sha256').update(x509.raw).digest('hex'),
  };
}
